"""Run configuration: schema, TOML input and output, overrides, validation."""

from pyro_vae.config.overrides import apply_override, merge_keywords, parse_assignment
from pyro_vae.config.resolve import resolve_config
from pyro_vae.config.schema import (
    DataConfig,
    EvalConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    config_from_dict,
    config_to_dict,
)
from pyro_vae.config.toml_io import dumps_toml, read_toml, write_toml
from pyro_vae.config.validate import validate_config

__all__ = [
    "DataConfig",
    "EvalConfig",
    "ModelConfig",
    "RunConfig",
    "TrainConfig",
    "apply_override",
    "config_from_dict",
    "config_to_dict",
    "dumps_toml",
    "merge_keywords",
    "parse_assignment",
    "read_toml",
    "resolve_config",
    "validate_config",
    "write_toml",
]
