"""The command modules, in the order ``--help`` lists them."""

from pyro_vae.cli import (
    compare_cmd,
    diagnose_cmd,
    encode_cmd,
    evaluate_cmd,
    fit_cmd,
    list_cmd,
    sample_cmd,
    score_cmd,
    table_cmd,
)

COMMANDS = (
    fit_cmd,
    evaluate_cmd,
    score_cmd,
    encode_cmd,
    sample_cmd,
    compare_cmd,
    table_cmd,
    diagnose_cmd,
    list_cmd,
)
