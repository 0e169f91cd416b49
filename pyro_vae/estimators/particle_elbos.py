"""Registry entries of the per-example multi-sample estimators written here."""

from __future__ import annotations

from pyro.infer import ELBO

from pyro_vae.estimators._registry import ESTIMATORS
from pyro_vae.estimators.dreg import DReG_ELBO
from pyro_vae.estimators.renyi import IWAEBound, RenyiBound
from pyro_vae.estimators.stl import StickingTheLanding_ELBO
from pyro_vae.estimators.tail_adaptive import TailAdaptive_ELBO
from pyro_vae.registry import FINITE, POSITIVE_INT, OptionRange

__all__ = ["RENYI_ALPHA", "dreg", "iwae", "renyi", "stl", "tail_adaptive"]

RENYI_ALPHA = OptionRange(
    "a finite number other than 1 (that is the ELBO: use 'trace')", lambda a: FINITE.accepts(a) and a != 1
)


@ESTIMATORS.register("iwae", {"num_particles": POSITIVE_INT})
def iwae(max_plate_nesting: int, num_particles: int = 5) -> ELBO:
    """Importance-weighted bound log(1/K sum_k w_k) per example, reparameterised gradient (Burda et al. 2016).

    Parameters
    ----------
    num_particles
        ``K``, draws per example.
    """
    return IWAEBound(num_particles=num_particles, max_plate_nesting=max_plate_nesting)


@ESTIMATORS.register("renyi", {"alpha": RENYI_ALPHA, "num_particles": POSITIVE_INT})
def renyi(max_plate_nesting: int, alpha: float = 0.5, num_particles: int = 5) -> ELBO:
    """Renyi alpha bound per example (Li & Turner 2016); alpha = 0 is ``iwae``, alpha -> 1 the ELBO.

    Parameters
    ----------
    alpha
        Order of the divergence (not 1).
    num_particles
        ``K``, draws per example.
    """
    return RenyiBound(alpha=alpha, num_particles=num_particles, max_plate_nesting=max_plate_nesting)


@ESTIMATORS.register("dreg", {"num_particles": POSITIVE_INT})
def dreg(max_plate_nesting: int, num_particles: int = 5) -> ELBO:
    """IWAE bound with doubly reparameterized gradients for the guide (Tucker et al. 2018).

    Parameters
    ----------
    num_particles
        ``K``, draws per example.
    """
    return DReG_ELBO(num_particles=num_particles, max_plate_nesting=max_plate_nesting)


@ESTIMATORS.register("stl", {"num_particles": POSITIVE_INT})
def stl(max_plate_nesting: int, num_particles: int = 1) -> ELBO:
    """ELBO with the sticking-the-landing gradient: the guide's score term dropped (Roeder et al. 2017).

    Parameters
    ----------
    num_particles
        Draws per example, averaged.
    """
    return StickingTheLanding_ELBO(num_particles=num_particles, max_plate_nesting=max_plate_nesting)


@ESTIMATORS.register("tail_adaptive", {"beta": FINITE, "num_particles": POSITIVE_INT})
def tail_adaptive(max_plate_nesting: int, beta: float = -1.0, num_particles: int = 5) -> ELBO:
    """Tail-adaptive f-divergence gradient per example (Wang et al. 2018); reports the ELBO.

    Parameters
    ----------
    beta
        Exponent of the rank weights (negative: mass covering).
    num_particles
        ``K``, draws per example.
    """
    return TailAdaptive_ELBO(beta=beta, num_particles=num_particles, max_plate_nesting=max_plate_nesting)
