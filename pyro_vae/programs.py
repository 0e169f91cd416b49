"""Your own Pyro programs (kind ``program``): a model and a guide written by hand, trained and scored by pyro-vae.

The contract (the README's "Your own Pyro programs" shows an example):

- ``model(x, y=None)`` and ``guide(x, y=None)``: PyroModules, ``nn.Module`` objects whose ``forward`` is the
  program, or plain functions that register their networks with ``pyro.module`` (parameters made with
  a bare ``pyro.param`` are kept too). Build them as in plain Pyro (``module_local_params`` off):
  pyro-vae runs each in a parameter store of its own (``ParamStoreDict.scope``), so names never clash
  with another program's, a guide's with its model's, or a stale global store's.
- Every sample site lies inside one data plate of the batch's size at ``dim=-1``
  (``with pyro.plate("data", x.shape[0]):``), one batch dimension each (``.to_event(n)`` for the rest).
- The model observes the examples at a site named ``"x"``; the guide samples every latent site of the
  model. Latent sites may be several (a hierarchical prior) and continuous or discrete.
- Shapes are read from the right: evaluation (and ``iwae``, ``dreg``, ...) draws ``K`` particles at once
  in a plate at ``dim=-2``, so a latent may arrive as ``(K, B, d)``: reshape with
  ``z.shape[:-1]``, not ``x.shape``.
- ``kl_weight`` (KL warm-up, ``model.beta``) needs nothing of the programs: pyro-vae scales every latent
  sample site of both by it, giving ``log p(x | z) + w (log p(z) - log q(z | x))``.

pyro-vae checks this on a batch of zeros when it wraps the programs, and the error names the site and the fix.
Evaluation (ELBO, importance-sampled log-likelihood, PSIS) runs through Pyro traces; codes (:meth:`encode`)
are the guide's latent sites' means and standard deviations side by side, in the order the guide samples them.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyro
import torch
from pyro import poutine
from pyro.poutine.messenger import Messenger
from pyro.poutine.trace_struct import Trace
from torch import Tensor, nn

from pyro_vae._pyro import is_latent_sample
from pyro_vae.config.schema import ModelConfig, RunConfig
from pyro_vae.errors import ConfigError
from pyro_vae.estimators import draw_particles
from pyro_vae.estimators.needs import ModelTraits, check_applies
from pyro_vae.kinds import DataShape
from pyro_vae.vae import ENCODE_CHUNK, VAE
from pyro_vae.vae_pictures import save_code_scatter, write_common_pictures

if TYPE_CHECKING:
    from pyro_vae.data import DataBundle

__all__ = ["OBSERVED_SITE", "ProgramVAE", "Programs", "UserProgram", "build_program_kind", "program_keywords"]

#: the model's site that observes the examples
OBSERVED_SITE = "x"
#: examples in the batch of zeros the programs are checked on when wrapped
PROBE_BATCH = 3
#: why estimators that compile pyro-vae's own programs refuse kind program (see pyro_vae.estimators.needs)
PROGRAMS_TRAIT = "model.kind = 'program' runs your own Pyro programs"


class _ScaleLatents(Messenger):
    """Multiply the log-density of every latent sample site (not the observations) by ``weight``."""

    def __init__(self, weight: float) -> None:
        super().__init__()
        self.weight = weight

    def _process_message(self, msg: dict[str, Any]) -> None:
        if is_latent_sample(msg):
            msg["scale"] = msg["scale"] * self.weight


class UserProgram(nn.Module):
    """A user's Pyro program with pyro-vae's call signature ``(x, y=None, kl_weight=1.0)``.

    Parameters
    ----------
    program
        The model or guide: a PyroModule / ``nn.Module`` (registered here, so its parameters are this
        module's) or a function (whose ``pyro.module`` networks :meth:`adopt_parameters` registers).
    role
        ``"model"`` or ``"guide"``, for error messages.

    The program runs in a private parameter store (:attr:`store`, a ``ParamStoreDict.scope`` state):
    its ``pyro.module`` networks and ``pyro.param`` sites resolve to the tensors registered here.
    """

    def __init__(self, program: Callable[..., Any], role: str) -> None:
        super().__init__()
        if not callable(program):
            raise ConfigError(
                f"{role}= must be a Pyro program (a PyroModule, an nn.Module or a function (x, y=None)), "
                f"got {type(program).__name__}"
            )
        self.program = program
        self.role = role
        #: parameters the program reaches through pyro.module or pyro.param, keyed by their store names ('.' -> '__')
        self.adopted = nn.ParameterDict()
        #: the program's own parameter store
        self.store: dict[str, dict[str, Any]] = {"params": {}, "constraints": {}}

    def forward(self, x: Tensor, y: Tensor | None = None, kl_weight: float = 1.0) -> Any:
        """Run the program on ``x`` (and ``y`` when given), its latent sites scaled by ``kl_weight``."""
        args = (x,) if y is None else (x, y)
        with pyro.settings.context(module_local_params=False), pyro.get_param_store().scope(self.store):
            if kl_weight == 1.0:
                return self.program(*args)
            with _ScaleLatents(kl_weight):
                return self.program(*args)

    def adopt_parameters(self, trace: Trace) -> None:
        """Register the (unconstrained) tensors behind ``trace``'s param sites that are not this module's yet.

        A bare ``pyro.param``'s tensor becomes an ``nn.Parameter`` in the store, so it is trained and saved too.
        """
        known = {id(p) for p in self.parameters()}
        params = self.store["params"]
        for name in (name for name, site in trace.nodes.items() if site["type"] == "param"):
            value = params[name]
            if id(value) in known:
                continue
            if not isinstance(value, nn.Parameter):
                value = params[name] = nn.Parameter(value.detach().clone())
            self.adopted[name.replace(".", "__")] = value
            known.add(id(value))


def describe(program: Callable[..., Any]) -> str:
    """``module.QualifiedName`` of a program: the function itself, else its class (a module, a callable object)."""
    target = program if isinstance(program, (types.FunctionType, types.MethodType)) else type(program)
    return f"{target.__module__}.{target.__qualname__}"


@dataclass(frozen=True)
class Programs:
    """A user's model and guide, as handed to :func:`pyro_vae.fit` (``model=``, ``guide=``)."""

    model: Callable[..., Any]
    guide: Callable[..., Any]

    def keywords(self) -> dict[str, str]:
        """The configuration keys that record them: kind ``program`` and the programs' names."""
        return {
            "model.kind": "program",
            "model.model_program": describe(self.model),
            "model.guide_program": describe(self.guide),
        }

    def build(self, config: RunConfig, event_shape: tuple[int, ...]) -> ProgramVAE:
        """The wrapper of these programs for examples of ``event_shape``, checked against ``config``.

        Raises
        ------
        ConfigError
            If ``config`` is not a run of kind ``program`` with programs of these names (a resumed
            run asks for the same programs), if they break the contract, or if ``train.estimator``
            cannot train them (e.g. a discrete latent site and ``iwae``).
        """
        self._check_names(config.model)
        model, guide = UserProgram(self.model, "model"), UserProgram(self.guide, "guide")
        vae = ProgramVAE(model, guide, tuple(event_shape), _beta(config.model))
        vae.probe()
        check_applies(config.train.estimator, vae.traits())
        return vae

    def _check_names(self, config: ModelConfig) -> None:
        if config.kind != "program":
            raise ConfigError(
                f"model= and guide= are your own Pyro programs, but this run's model.kind is {config.kind!r}: "
                "leave them out for a run of a built-in kind"
            )
        saved = (config.option("model_program"), config.option("guide_program"))
        given = (describe(self.model), describe(self.guide))
        if None not in saved and saved != given:
            raise ConfigError(
                f"this run was fitted with model {saved[0]} and guide {saved[1]}, but model={given[0]} and "
                f"guide={given[1]} were passed: pass the run's own programs"
            )


def _beta(config: ModelConfig) -> float:
    beta = config.option("beta")
    return 1.0 if beta is None else float(beta)


def program_keywords(model: Any, guide: Any) -> tuple[Programs | None, dict[str, Any]]:
    """Split ``fit``'s ``model=`` / ``guide=`` into user programs and configuration keywords.

    A mapping ``model=`` is the ``[model]`` section, as before; programs come in pairs.
    """
    if model is None and guide is None:
        return None, {}
    if isinstance(model, Mapping) and guide is None:
        return None, {"model": model}
    if model is None or guide is None or isinstance(model, Mapping):
        raise ConfigError(
            "pass both model= and guide= (your own Pyro programs), or neither; the [model] section as a dict "
            "goes with no guide="
        )
    programs = Programs(model, guide)
    return programs, programs.keywords()


class ProgramVAE(VAE):
    """A user's model and guide (:class:`UserProgram`) with pyro-vae's trainer, evaluation and scores.

    Evaluation, scores and pictures run the programs under Pyro traces: codes are the guide's latent sites'
    moments, reconstructions and samples the mean of the model's site ``"x"``.
    """

    model: UserProgram
    guide: UserProgram

    def __init__(self, model: UserProgram, guide: UserProgram, event_shape: tuple[int, ...], beta: float = 1.0) -> None:
        super().__init__(model, guide, beta=beta)
        self.event_shape = event_shape
        self.code_dim = 0
        self.discrete: str | None = None

    # -- the contract, checked on a batch of zeros -----------------------------------------

    def probe(self) -> None:
        """Run both programs once on zeros: check the contract, adopt ``pyro.module`` networks, size the code."""
        x = torch.zeros(PROBE_BATCH, *self.event_shape)
        with torch.random.fork_rng(), pyro.validation_enabled(False), torch.no_grad():
            guide_trace = self._run(poutine.trace(self.guide), "guide", x)
            model_trace = self._run(poutine.trace(poutine.replay(self.model, trace=guide_trace)), "model", x)
        _check_sites(model_trace, guide_trace)
        self._check_particles(x)
        self.model.adopt_parameters(model_trace)
        self.guide.adopt_parameters(guide_trace)
        latents = _latents(guide_trace)
        self.code_dim = sum(site["value"][0].numel() for site in latents)
        discrete = [site for site in latents if not site["fn"].has_rsample]
        if discrete:
            site = discrete[0]
            self.discrete = f"your guide's site {site['name']!r} ({_family(site['fn'])}) is discrete"

    def _check_particles(self, x: Tensor) -> None:
        """Both programs must take latents with a particle dimension on the left (evaluation draws them so)."""
        try:
            with torch.random.fork_rng(), pyro.validation_enabled(False), torch.no_grad():
                draw_particles(self.model, self.guide, (x,), {}, 2)
        except Exception as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ConfigError(
                f"your programs fail when the latents carry a particle dimension on the left, as evaluation draws "
                f"them ({type(error).__name__}: {first}): read shapes from the right, e.g. "
                "reshape(*z.shape[:-1], *event_shape) rather than reshape(x.shape)"
            ) from error

    @staticmethod
    def _run(program: Callable[..., Any], role: str, x: Tensor) -> Trace:
        try:
            trace = program.get_trace(x)
            trace.compute_log_prob()  # densities of the values drawn: shapes that do not fit fail here
            return trace
        except ConfigError:
            raise
        except Exception as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ConfigError(
                f"your {role} failed on a batch of {x.shape[0]} examples of shape {tuple(x.shape[1:])} "
                f"({type(error).__name__}: {first}): see the contract in the README's 'Your own Pyro programs'"
            ) from error

    def traits(self) -> ModelTraits:
        """What estimators need to know of these programs (:mod:`pyro_vae.estimators.needs`)."""
        return ModelTraits(discrete=self.discrete, programs=PROGRAMS_TRAIT)

    # -- the VAE hooks ----------------------------------------------------------------------

    @property
    def z_dim(self) -> int:
        return self.code_dim

    def has_discrete_latents(self) -> bool:
        return self.discrete is not None

    def extra_metrics(self, data: DataBundle) -> dict[str, Any]:
        """The code's width as ``z_dim`` in ``summary.json`` (the configuration's ``model.z_dim`` does not apply)."""
        return {"z_dim": self.code_dim}

    def check_data(self, data: DataBundle) -> None:
        """Nothing checked before training: the programs' own distributions do (``train.validate_distributions``)."""

    def output_floats(self, event_size: int) -> int:
        """Two floats per value (a location and a scale, say): the size of evaluation's chunks of draws."""
        return 2 * event_size

    @torch.no_grad()
    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Means and standard deviations of the guide's latent sites, flattened side by side, each ``(B, z_dim)``."""
        trace = self._trace(self.guide, x)
        sites = _latents(trace)
        means = [site["fn"].mean.reshape(x.shape[0], -1) for site in sites]
        stds = [site["fn"].stddev.reshape(x.shape[0], -1) for site in sites]
        return torch.cat(means, -1), torch.cat(stds, -1)

    def decode(self, z: Tensor) -> Tensor:
        raise ConfigError(
            "your own programs have no decoder pyro-vae can call on a code: use sample() or reconstruct()"
        )

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Mean of the model's site ``"x"`` with every latent at the guide's mean, ``(N, *event_shape)``."""
        x = torch.as_tensor(x, dtype=torch.float32)
        parts = []
        for part in x.split(ENCODE_CHUNK):
            means = {site["name"]: site["fn"].mean for site in _latents(self._trace(self.guide, part))}
            trace = self._trace(poutine.condition(self.model, data=means), part)
            parts.append(trace.nodes[OBSERVED_SITE]["fn"].mean.reshape(part.shape))
        return torch.cat(parts)

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        """``n`` examples: the mean of the model's site ``"x"`` with its latents drawn from the prior."""
        x = torch.zeros(n, *self.event_shape)
        trace = self._trace(poutine.uncondition(self.model), x)
        return trace.nodes[OBSERVED_SITE]["fn"].mean.reshape(x.shape)

    def sample_prior(self, n: int) -> Tensor:
        raise ConfigError("your own programs' prior is sampled inside the model: use sample()")

    def _trace(self, program: Callable[..., Any], x: Tensor) -> Trace:
        with pyro.validation_enabled(False):
            return poutine.trace(program).get_trace(x)

    def write_pictures(self, data: DataBundle, history: list[dict[str, float]], folder: Path) -> list[Path]:
        """Samples, reconstructions, the training curve and the codes of the test set."""
        written = write_common_pictures(self, data, history, folder, "samples of your model")
        return [*written, save_code_scatter(self, data, folder)]


def _family(fn: torch.distributions.Distribution) -> str:
    """The name of a distribution's family, through ``Independent`` wrappers (``.to_event``)."""
    while isinstance(fn, torch.distributions.Independent):
        fn = fn.base_dist
    return type(fn).__name__


def _latents(trace: Trace) -> list[dict[str, Any]]:
    return [site for site in trace.nodes.values() if is_latent_sample(site)]


def _check_sites(model_trace: Trace, guide_trace: Trace) -> None:
    """The contract: site ``"x"`` observed by the model, every sample site in a data plate at ``dim=-1``."""
    observed = model_trace.nodes.get(OBSERVED_SITE)
    if observed is None or observed["type"] != "sample" or not observed["is_observed"]:
        raise ConfigError(
            f"your model must observe the examples at a site named {OBSERVED_SITE!r}: "
            f"pyro.sample({OBSERVED_SITE!r}, likelihood, obs=x) inside the data plate"
        )
    missing = [site["name"] for site in _latents(model_trace) if site["name"] not in guide_trace.nodes]
    if missing:
        raise ConfigError(f"your guide does not sample the model's latent site(s) {missing}: sample them in the guide")
    for role, trace in (("model", model_trace), ("guide", guide_trace)):
        for site in trace.nodes.values():
            if site["type"] == "sample" and (is_latent_sample(site) or site["is_observed"]):
                _check_plate(role, site)


def _check_plate(role: str, site: dict[str, Any]) -> None:
    in_plate = any(frame.dim == -1 and frame.size == PROBE_BATCH for frame in site["cond_indep_stack"])
    if not in_plate:
        raise ConfigError(
            f"site {site['name']!r} of your {role} is not in a data plate: sample it inside "
            "`with pyro.plate('data', x.shape[0]):` (dim=-1, the batch's size)"
        )
    shape = tuple(site["fn"].batch_shape)
    if shape != (PROBE_BATCH,):
        raise ConfigError(
            f"site {site['name']!r} of your {role} has batch shape {shape} for {PROBE_BATCH} examples: "
            "one batch dimension (the data plate's), the rest declared an event with .to_event(n)"
        )


def build_program_kind(config: ModelConfig, shape: DataShape) -> VAE:
    """The builder of kind ``program`` without programs in hand: refused, naming the programs to pass."""
    names = f" (model {config.option('model_program')}, guide {config.option('guide_program')})"
    raise ConfigError(
        f"model kind 'program' runs your own Pyro programs{names}: pass them again from Python, e.g. "
        "pyro_vae.resume(run, model=model, guide=guide) or pyro_vae.load_run(run, model=model, guide=guide); "
        "the command line cannot rebuild them"
    )
