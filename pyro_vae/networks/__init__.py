"""Encoder/decoder network pairs, looked up by name in :data:`NETWORKS`.

A network factory receives the data's ``event_shape``, the latent size and the
likelihood's ``params_per_dim`` and returns a :class:`Networks` pair sized from
them: the encoder maps ``x`` of shape ``(B, *event_shape)`` to ``encoder_out``
features, the decoder maps ``z`` of shape ``(..., z_dim)`` to likelihood
parameters of shape ``(..., params_per_dim, *event_shape)``. Your own pair, passed from
Python, stands in as ``"custom"`` (:func:`using_network`, shapes checked by :func:`check_networks`).
"""

from pyro_vae.networks._registry import ACTIVATIONS, NETWORKS, Networks, make_activation
from pyro_vae.networks.conv import ConvDecoder, ConvEncoder, conv_networks
from pyro_vae.networks.custom import CUSTOM, check_networks, network_origin, using_network
from pyro_vae.networks.mlp import MLPDecoder, MLPEncoder, mlp_networks

__all__ = [
    "ACTIVATIONS",
    "CUSTOM",
    "NETWORKS",
    "ConvDecoder",
    "ConvEncoder",
    "MLPDecoder",
    "MLPEncoder",
    "Networks",
    "check_networks",
    "conv_networks",
    "make_activation",
    "mlp_networks",
    "network_origin",
    "using_network",
]
