"""Fully connected encoder and decoder for data of any shape."""

from __future__ import annotations

import itertools
import math

from torch import Tensor, nn

from pyro_vae.networks._registry import ACTIVATION, LAYERS, NETWORKS, Networks, check_sizes, make_activation

__all__ = ["MLPDecoder", "MLPEncoder", "mlp_networks"]


def _stack(sizes: list[int], act: str) -> nn.Sequential:
    """Linear layers through ``sizes`` with ``act`` between them (not after the last)."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        if i:
            layers.append(make_activation(act))
        layers.append(nn.Linear(fan_in, fan_out))
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """``x -> flatten -> [Linear, act]* -> Linear -> features``."""

    def __init__(self, event_shape: tuple[int, ...], hidden: list[int], out_features: int, act: str) -> None:
        super().__init__()
        self.event_dims = len(event_shape)
        self.net = _stack([math.prod(event_shape), *hidden, out_features], act)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(-self.event_dims))


class MLPDecoder(nn.Module):
    """``z -> [Linear, act]* -> Linear -> (..., params_per_dim, *event_shape)``."""

    def __init__(self, z_dim: int, hidden: list[int], out_shape: tuple[int, ...], act: str) -> None:
        super().__init__()
        self.out_shape = tuple(out_shape)
        self.net = _stack([z_dim, *hidden, math.prod(out_shape)], act)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).unflatten(-1, self.out_shape)


@NETWORKS.register("mlp", {"hidden": LAYERS, "activation": ACTIVATION})
def mlp_networks(
    event_shape: tuple[int, ...],
    z_dim: int,
    params_per_dim: int,
    encoder_out: int,
    hidden: list[int] = [512, 256],  # noqa: B006 (never mutated)
    activation: str = "relu",
) -> Networks:
    """Multilayer perceptrons: the encoder uses ``hidden``, the decoder its reverse.

    Parameters
    ----------
    hidden
        Hidden layer sizes of the encoder (``[]`` gives linear maps).
    activation
        Non-linearity between layers (``relu``, ``elu``, ``gelu``, ``softplus``, ``tanh``,
        ``leaky_relu``).
    """
    hidden = check_sizes("mlp", "hidden", hidden, allow_empty=True)
    encoder = MLPEncoder(event_shape, hidden, encoder_out, activation)
    decoder = MLPDecoder(z_dim, hidden[::-1], (params_per_dim, *event_shape), activation)
    return Networks(encoder, decoder)
