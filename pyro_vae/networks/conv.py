"""Convolutional encoder and decoder for images ``(channels, height, width)`` of any size."""

from __future__ import annotations

import itertools
import math

from torch import Tensor, nn

from pyro_vae.errors import ConfigError
from pyro_vae.networks._registry import (
    ACTIVATION,
    CHANNELS,
    NETWORKS,
    Networks,
    check_sizes,
    make_activation,
)
from pyro_vae.registry import POSITIVE_INT

__all__ = ["ConvDecoder", "ConvEncoder", "conv_networks"]

# 3x3 kernels, stride 2, padding 1: each layer maps a side n to ceil(n / 2).
_KERNEL, _STRIDE, _PAD = 3, 2, 1


def _halved_sides(height: int, width: int, layers: int) -> list[tuple[int, int]]:
    """Spatial sizes before each encoder layer and after the last."""
    sides = [(height, width)]
    for _ in range(layers):
        h, w = sides[-1]
        sides.append(((h + 1) // 2, (w + 1) // 2))
    return sides


class ConvEncoder(nn.Module):
    """Strided convolutions, then a fully connected layer to ``out_features``."""

    def __init__(
        self, event_shape: tuple[int, int, int], channels: list[int], fc: int, out_features: int, act: str
    ) -> None:
        super().__init__()
        sizes = [event_shape[0], *channels]
        layers: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(sizes):
            layers += [nn.Conv2d(c_in, c_out, _KERNEL, _STRIDE, _PAD), make_activation(act)]
        h, w = _halved_sides(event_shape[1], event_shape[2], len(channels))[-1]
        layers += [nn.Flatten(), nn.Linear(channels[-1] * h * w, fc), make_activation(act), nn.Linear(fc, out_features)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        batch = x.shape[:-3]
        return self.net(x.reshape(-1, *x.shape[-3:])).reshape(*batch, -1)


class ConvDecoder(nn.Module):
    """A fully connected layer, then transposed convolutions mirroring :class:`ConvEncoder`."""

    def __init__(
        self, z_dim: int, event_shape: tuple[int, int, int], channels: list[int], fc: int, params_per_dim: int, act: str
    ) -> None:
        super().__init__()
        c, height, width = event_shape
        sides = _halved_sides(height, width, len(channels))
        self.start = (channels[-1], *sides[-1])
        self.out_shape = (params_per_dim, *event_shape)
        self.fc = nn.Sequential(
            nn.Linear(z_dim, fc), make_activation(act), nn.Linear(fc, math.prod(self.start)), make_activation(act)
        )
        layers: list[nn.Module] = []
        sizes = [params_per_dim * c, *channels]
        for i in range(len(channels), 0, -1):
            (h_out, w_out), (h_in, w_in) = sides[i - 1], sides[i]
            padding = (h_out - (2 * h_in - 1), w_out - (2 * w_in - 1))
            if layers:
                layers.append(make_activation(act))
            layers.append(nn.ConvTranspose2d(sizes[i], sizes[i - 1], _KERNEL, _STRIDE, _PAD, padding))
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        batch = z.shape[:-1]
        h = self.fc(z.reshape(-1, z.shape[-1])).reshape(-1, *self.start)
        return self.deconv(h).reshape(*batch, *self.out_shape)


@NETWORKS.register("conv", {"channels": CHANNELS, "fc": POSITIVE_INT, "activation": ACTIVATION})
def conv_networks(
    event_shape: tuple[int, ...],
    z_dim: int,
    params_per_dim: int,
    encoder_out: int,
    channels: list[int] = [32, 64],  # noqa: B006 (never mutated)
    fc: int = 256,
    activation: str = "relu",
) -> Networks:
    """Convolutional networks for images, sized from ``event_shape = (C, H, W)``.

    Parameters
    ----------
    channels
        Output channels of the encoder's stride-2 convolutions (the decoder mirrors them).
    fc
        Width of the fully connected layer between the convolutions and the latent code.
    activation
        Non-linearity between layers.
    """
    if len(event_shape) != 3:
        raise ConfigError(
            f"network 'conv' needs image data of shape (channels, height, width) per example, "
            f"but this data has shape {tuple(event_shape)}: use network 'mlp' for vector data"
        )
    channels = check_sizes("conv", "channels", channels, allow_empty=False)
    check_sizes("conv", "fc", [fc], allow_empty=False)
    shape = (int(event_shape[0]), int(event_shape[1]), int(event_shape[2]))
    encoder = ConvEncoder(shape, channels, fc, encoder_out, activation)
    decoder = ConvDecoder(z_dim, shape, channels, fc, params_per_dim, activation)
    return Networks(encoder, decoder)
