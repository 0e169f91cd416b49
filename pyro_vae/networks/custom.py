"""Your own encoder and decoder: ``fit(network=...)`` with ``nn.Module`` s, checked against the built-in contract.

``network`` is an object with ``encoder`` and ``decoder`` modules (a :class:`Networks` pair, an
``nn.Module`` holding both, any object with both attributes), used as it is; or a factory
called as ``factory(event_shape=..., z_dim=..., params_per_dim=..., encoder_out=...)`` that
returns one, built afresh (seeded) for each run. Either stands in the :data:`NETWORKS` registry as
``"custom"`` while :func:`using_network` is active, with ``origin`` naming what it was; without
it, a spec naming ``"custom"`` is an error asking for the network again (a resumed or reloaded run).

The contract the built-in networks meet, checked on a batch of zeros when the network is
built (before any training): the encoder maps ``x`` of shape ``(B, *event_shape)`` to
``(B, encoder_out)`` (the guide's parameters: a location and a scale per latent dimension);
the decoder maps ``z`` of shape ``(..., z_dim)`` (leading axes: batch, and particles for the
importance-weighted estimators and evaluation) to ``(..., params_per_dim, *event_shape)``
(the likelihood's parameters per data dimension).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from pyro_vae.errors import ConfigError
from pyro_vae.networks._registry import NETWORKS, Networks

__all__ = ["CUSTOM", "check_networks", "network_origin", "using_network"]

#: the registry name of a network passed from Python
CUSTOM = "custom"
#: batch and particle sizes of the shape check (distinct, so a swapped axis shows)
_BATCH, _PARTICLES = 2, 3


def _qualified(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def network_origin(network: Any) -> str:
    """What ``network`` is (a factory's qualified name, or the object's and its modules' classes): its ``origin``."""
    if _is_factory(network):
        return _qualified(network)
    encoder, decoder = (type(getattr(network, part, None)) for part in ("encoder", "decoder"))
    return f"{_qualified(type(network))}(encoder={_qualified(encoder)}, decoder={_qualified(decoder)})"


def _pair(network: Any, where: str) -> Networks:
    """The encoder and decoder of ``network``; a :class:`ConfigError` unless both are ``nn.Module`` s."""
    encoder, decoder = getattr(network, "encoder", None), getattr(network, "decoder", None)
    if not isinstance(encoder, nn.Module) or not isinstance(decoder, nn.Module):
        raise ConfigError(
            f"{where} must have 'encoder' and 'decoder' attributes that are torch.nn.Modules, got "
            f"encoder={type(encoder).__name__}, decoder={type(decoder).__name__} (or pass a factory "
            "f(event_shape, z_dim, params_per_dim, encoder_out) returning such an object)"
        )
    return Networks(encoder, decoder)


def _shape_error(part: str, given: tuple[int, ...], got: object, expected: tuple[int, ...], why: str) -> ConfigError:
    return ConfigError(
        f"network {part} maps an input of shape {given} to {got}; expected {expected} ({why}): "
        "fix the network's output layer"
    )


def _output(module: nn.Module, inputs: torch.Tensor, part: str) -> object:
    """``module(inputs)``'s shape, or the error it raised, as a word for the message."""
    try:
        out = module(inputs)
    except Exception as err:  # the user's code: any failure is reported with the shapes
        return f"an error ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
    return tuple(out.shape) if isinstance(out, torch.Tensor) else f"a {type(out).__name__}, not a tensor"


def check_networks(
    networks: Networks, event_shape: tuple[int, ...], z_dim: int, params_per_dim: int, encoder_out: int
) -> None:
    """Run the encoder and decoder once on zeros, in eval mode and without gradients, and check their shapes.

    Raises
    ------
    ConfigError
        Naming the output (encoder; decoder for a batch; decoder with a particle axis), the
        shape it had and the shape expected.
    """
    modes = [(m, m.training) for m in (networks.encoder, networks.decoder)]
    try:
        with torch.no_grad():
            for module, _ in modes:
                module.eval()
            x = torch.zeros(_BATCH, *event_shape)
            got = _output(networks.encoder, x, "encoder")
            if got != (_BATCH, encoder_out):
                why = f"encoder_out = {encoder_out}: a location and a scale per latent dimension"
                raise _shape_error("encoder", tuple(x.shape), got, (_BATCH, encoder_out), why)
            for lead in ((_BATCH,), (_PARTICLES, _BATCH)):
                z, expected = torch.zeros(*lead, z_dim), (*lead, params_per_dim, *event_shape)
                got = _output(networks.decoder, z, "decoder")
                if got != expected:
                    why = f"params_per_dim = {params_per_dim} likelihood parameters per value of an example"
                    raise _shape_error("decoder", tuple(z.shape), got, expected, why)
    finally:
        for module, mode in modes:
            module.train(mode)


def _absent(spec: dict[str, Any]) -> str:
    """The error for a run whose own network was not passed again."""
    origin = spec.get("origin", "")
    return (
        f"this run uses your own network{f' ({origin})' if origin else ''}, passed from Python: pass the same "
        "one again (pyro_vae.resume/load_run(..., network=...), or `with pyro_vae.using_network(net):`); the "
        "command line cannot rebuild it"
    )


NETWORKS.explain_absent(CUSTOM, _absent)


def _factory(network: Any, origin: str) -> Callable[..., Networks]:
    """The registry factory for ``network``: builds (or takes) the pair, checks its shapes."""

    def custom(
        event_shape: tuple[int, ...], z_dim: int, params_per_dim: int, encoder_out: int, origin: str = origin
    ) -> Networks:
        """Your own encoder and decoder, passed from Python as pyro_vae.fit(network=...)."""
        if origin != network_origin(network):
            raise ConfigError(f"this run was fitted with network {origin}, but got {network_origin(network)}")
        context = {"event_shape": event_shape, "z_dim": z_dim, "params_per_dim": params_per_dim}
        built = network(**context, encoder_out=encoder_out) if _is_factory(network) else network
        pair = _pair(built, f"network {origin}")
        check_networks(pair, tuple(event_shape), z_dim, params_per_dim, encoder_out)
        return pair

    return custom


def _is_factory(network: Any) -> bool:
    """A factory is a callable that is not itself a module (a class counts: it is called with the sizes)."""
    return callable(network) and not isinstance(network, nn.Module)


@contextlib.contextmanager
def using_network(network: Any) -> Iterator[dict[str, str] | None]:
    """Make ``network`` the ``"custom"`` network while the block runs; yields its spec for ``model.network``.

    Parameters
    ----------
    network
        An object with ``encoder`` and ``decoder`` modules, or a factory returning one; ``None``
        changes nothing (and yields ``None``).
    """
    if network is None:
        yield None
        return
    if not _is_factory(network):
        _pair(network, "network=")
    origin = network_origin(network)
    with NETWORKS.override(CUSTOM, _factory(network, origin)):
        yield {"name": CUSTOM, "origin": origin}
