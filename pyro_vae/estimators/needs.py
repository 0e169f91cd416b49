"""What each estimator needs of the model it trains, so a misfit is refused before any training starts.

Most estimators train any model pyro-vae builds. Those listed in :data:`NEEDS`
do not:

- the per-example multi-sample estimators (``iwae``, ``renyi``, ``dreg``,
  ``stl``, ``tail_adaptive``) need every latent reparameterized (no binary
  code, no inferred label) and draw their particles over one data plate, so
  they cannot follow the semi-supervised kind, which splits each batch into
  plates by which labels are known;
- ``meanfield`` and ``jit_meanfield`` need reparameterized latents too: Pyro's
  mean-field ELBO has no score-function term, so with its checks off (as in
  training) it crashes on a binary code and silently drops the classifier's
  gradient through a missing label;
- ``jit_trace`` and ``jit_meanfield`` compile the loss in a private parameter store, which the
  user's own programs (kind ``program``, networks in Pyro's global store) do not use.

A refusal names the estimator as the user did, says what in the configuration
it cannot train, and lists the estimators that can.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyro_vae.errors import ConfigError
from pyro_vae.estimators._registry import ESTIMATORS
from pyro_vae.registry import ComponentSpec, normalize_spec

__all__ = ["NEEDS", "ModelTraits", "Needs", "applicable_estimators", "check_applies", "estimator_refusal"]


@dataclass(frozen=True)
class ModelTraits:
    """What a model has that some estimators cannot train, each as the setting that asked for it (or ``None``).

    Attributes
    ----------
    discrete
        What gives the model a discrete latent site, e.g. ``"model.prior = 'bernoulli' makes a binary code"``.
    label_plates
        Why each batch is not one data plate, e.g. ``"model.kind = 'ss_vae' splits each batch into plates
        by which labels are known"``.
    programs
        Why the model and guide are not pyro-vae's own programs (kind ``program``: the user's).
    """

    discrete: str | None = None
    label_plates: str | None = None
    programs: str | None = None


@dataclass(frozen=True)
class Needs:
    """What an estimator needs: reparameterized latents only, a single data plate, pyro-vae's own programs."""

    reparameterized: bool = False
    one_plate: bool = False
    builtin: bool = False

    def unmet(self, traits: ModelTraits) -> str | None:
        """Why a model with ``traits`` does not suit the estimator, or ``None`` if it does."""
        if self.reparameterized and traits.discrete:
            return f"needs reparameterized latents, but {traits.discrete} (no rsample)"
        if self.one_plate and traits.label_plates:
            return f"draws its particles per example over one data plate, but {traits.label_plates}"
        if self.builtin and traits.programs:
            return f"compiles the programs in a private parameter store, but {traits.programs} (Pyro's global store)"
        return None


_PER_EXAMPLE = Needs(reparameterized=True, one_plate=True)
#: registered estimator name -> what it needs (names not listed train every model)
NEEDS: dict[str, Needs] = {
    "dreg": _PER_EXAMPLE,
    "iwae": _PER_EXAMPLE,
    "renyi": _PER_EXAMPLE,
    "stl": _PER_EXAMPLE,
    "tail_adaptive": _PER_EXAMPLE,
    "meanfield": Needs(reparameterized=True),
    "jit_meanfield": Needs(reparameterized=True, builtin=True),
    "jit_trace": Needs(builtin=True),
}


def estimator_refusal(spec: ComponentSpec, traits: ModelTraits) -> str | None:
    """Why estimator ``spec`` cannot train a model with ``traits`` (one sentence naming it), or ``None``."""
    name = normalize_spec(spec, "estimator")["name"]
    why = NEEDS.get(name, Needs()).unmet(traits)
    return None if why is None else f"estimator {name!r} {why}"


def applicable_estimators(traits: ModelTraits) -> list[str]:
    """The registered estimators that train a model with ``traits``."""
    return [name for name in ESTIMATORS.names() if estimator_refusal(name, traits) is None]


def check_applies(spec: ComponentSpec, traits: ModelTraits) -> None:
    """Raise a :class:`ConfigError` if estimator ``spec`` cannot train a model with ``traits``."""
    refusal = estimator_refusal(spec, traits)
    if refusal is not None:
        raise ConfigError(f"{refusal}: use one of {', '.join(applicable_estimators(traits))}")
