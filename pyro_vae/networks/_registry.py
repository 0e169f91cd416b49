"""The network registry, the encoder/decoder pair type, and shared option checks."""

from __future__ import annotations

from typing import NamedTuple

from torch import nn

from pyro_vae.errors import ConfigError
from pyro_vae.registry import POSITIVE_INT, OptionRange, Registry

__all__ = ["ACTIVATION", "ACTIVATIONS", "CHANNELS", "LAYERS", "NETWORKS", "Networks", "check_sizes", "make_activation"]


class Networks(NamedTuple):
    """An encoder and a decoder built for one data shape."""

    encoder: nn.Module
    decoder: nn.Module


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "softplus": nn.Softplus,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
}


def make_activation(name: str) -> nn.Module:
    """A new activation module by name; a clear error for an unknown one."""
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; valid activations: {', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[name]()


def check_sizes(kind: str, option: str, sizes: object, allow_empty: bool) -> list[int]:
    """Validate a list of positive layer sizes and return it."""
    ok = isinstance(sizes, (list, tuple)) and all(
        isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes
    )
    if not ok or (not allow_empty and not sizes):
        empty = "" if allow_empty else "non-empty "
        raise ConfigError(
            f"network {kind!r}: option {option!r} must be a {empty}list of positive integers, got {sizes!r}"
        )
    return list(sizes)


#: layer sizes: a list of positive integers (``LAYERS`` may be empty, ``CHANNELS`` not)
LAYERS = OptionRange(
    "a list of positive integers",
    lambda sizes: isinstance(sizes, (list, tuple)) and all(POSITIVE_INT.accepts(s) for s in sizes),
)
CHANNELS = OptionRange("a non-empty list of positive integers", lambda sizes: bool(sizes) and LAYERS.accepts(sizes))
ACTIVATION = OptionRange(
    f"one of the valid activations: {', '.join(sorted(ACTIVATIONS))}", lambda name: name in ACTIVATIONS
)

NETWORKS: Registry[Networks] = Registry("network", context=("event_shape", "z_dim", "params_per_dim", "encoder_out"))
