"""The command modules, in the order ``--help`` lists them."""

from pyro_vae.cli import evaluate_cmd, fit_cmd, list_cmd, sample_cmd

COMMANDS = (fit_cmd, evaluate_cmd, sample_cmd, list_cmd)
