"""``pyro-vae list``: every registered component and its options."""

from __future__ import annotations

import argparse
import inspect

from pyro_vae.data import DATASETS
from pyro_vae.estimators import ESTIMATORS
from pyro_vae.kinds import MODEL_KINDS
from pyro_vae.likelihoods import LIKELIHOODS
from pyro_vae.networks import NETWORKS
from pyro_vae.optim import OPTIMIZERS, SCHEDULERS
from pyro_vae.priors import PRIORS
from pyro_vae.registry import Registry

REGISTRIES: tuple[tuple[str, Registry], ...] = (
    ("model.prior", PRIORS),
    ("model.likelihood", LIKELIHOODS),
    ("model.network", NETWORKS),
    ("train.estimator", ESTIMATORS),
    ("train.optimizer", OPTIMIZERS),
    ("train.scheduler", SCHEDULERS),
    ("data.name", DATASETS),
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``list``."""
    p = sub.add_parser(
        "list",
        help="list model kinds, priors, likelihoods, networks, estimators, data sources",
        description=(
            "List every model kind and registered component with its options and defaults; a component from "
            "a plugin (an installed package, or --import) names it in brackets."
        ),
    )
    p.set_defaults(run=run)


def describe(registry: Registry) -> list[str]:
    """One line per registered name: ``name(option=default, ...)  first docstring line  [plugin origin]``."""
    lines = []
    for name in registry.names():
        options = ", ".join(
            key if default is inspect.Parameter.empty else f"{key}={default!r}"
            for key, default in registry.options(name).items()
        )
        doc = (inspect.getdoc(registry.get(name)) or "").replace("``", "").splitlines()
        origin = f"  [{registry.origin(name)}]" if registry.origin(name) else ""
        lines.append(f"  {name}({options})  {doc[0] if doc else ''}".rstrip() + origin)
    return lines


def describe_kinds() -> list[str]:
    """One line per model kind: ``name(option=default, ...)  default estimator: NAME``."""
    lines = []
    for name in MODEL_KINDS.names():
        kind = MODEL_KINDS.get(name)
        options = ", ".join(f"{key}={default!r}" for key, default in kind.options.items())
        lines.append(f"  {name}({options})  default estimator: {kind.default_estimator}")
    return lines


def run(args: argparse.Namespace) -> None:
    """Print the model kinds, then every registry."""
    print("model.kind:")
    print("\n".join(describe_kinds()))
    for key, registry in REGISTRIES:
        print(f"{key}:")
        print("\n".join(describe(registry)))
