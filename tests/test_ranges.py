"""Every numeric option is range-checked when the configuration is read (issue 13, section 4).

Fault kinds and their members (each a parametrized case below):

=====================================  ================================================================
kind                                   members (cases)
=====================================  ================================================================
a top-level or section value out of    seed and data.split_seed / eval.seed outside [0, 2**32); data.scale,
range accepted                         fractions, limit, labels, shift; model.z_dim, features, alpha,
                                       adversary, consistency, consistency_shift, bits; train.epochs,
                                       batch_size, lr (0, negative, inf), kl_warmup_epochs (negative, inf),
                                       patience, grad_clip, labelled_per_batch, on_divergence,
                                       max_rollbacks, divergence_factor, ddp_timeout; eval.samples,
                                       batch_size, workers
a component option out of range        optimizers (weight_decay, betas, fused, momentum), schedulers
accepted until the build (or never:    (cosine min_lr < 0 trained by gradient ascent, gamma, step_size),
cosine min_lr)                         estimators (num_particles, vectorize_particles, alpha, beta,
                                       baseline, temperatures, anneal_rate, straight_through, max_bits),
                                       priors, likelihoods, networks
an option registered without range     every option of every optimizer, scheduler, estimator, prior,
                                       likelihood and network has one
=====================================  ================================================================

Each bad value is a :class:`ConfigError` from :func:`resolve_config` (before any data is
loaded or run directory made), one line, naming the key and the accepted range.
"""

from __future__ import annotations

import math

import pytest

from pyro_vae.config import resolve_config
from pyro_vae.errors import ConfigError
from pyro_vae.estimators import ESTIMATORS
from pyro_vae.likelihoods import LIKELIHOODS
from pyro_vae.networks import NETWORKS
from pyro_vae.optim import OPTIMIZERS, SCHEDULERS
from pyro_vae.priors import PRIORS

SS = ["model.kind=ss_vae"]
ACTIVATIONS_LISTED = "one of the valid activations: elu, gelu, leaky_relu, relu, softplus, tanh"
SECTION_CASES = {
    "seed-negative": (["seed=-1"], "seed must be an integer in [0, 2**32)"),
    "seed-2-to-the-32": (["seed=4294967296"], "seed must be an integer in [0, 2**32)"),
    "split-seed-negative": (["data.split_seed=-1"], "data.split_seed must be an integer in [0, 2**32)"),
    "eval-seed-too-large": (["eval.seed=4294967296"], "eval.seed must be an integer in [0, 2**32)"),
    "scale-zero": (["data.scale=0"], "data.scale must be"),
    "scale-negative": (["data.scale=-2"], "data.scale must be"),
    "val-fraction-zero": (["data.val_fraction=0"], "data.val_fraction must be"),
    "val-fraction-one": (["data.val_fraction=1"], "data.val_fraction must be"),
    "test-fraction-negative": (["data.test_fraction=-0.1"], "data.test_fraction must be"),
    "fractions-sum-to-one": (["data.val_fraction=0.5", "data.test_fraction=0.5"], "less than 1"),
    "limit-negative": (["data.limit=-1"], "data.limit must be"),
    "labels-negative": (["data.labels=-1"], "data.labels must be"),
    "shift-negative": (["data.shift=-1"], "data.shift must be"),
    "z-dim-zero": (["model.z_dim=0"], "model.z_dim must be a positive integer"),
    "features-zero": ([*SS, "model.features=0"], "model.features must be a positive integer"),
    "alpha-negative": ([*SS, "model.alpha=-1"], "model.alpha must be a non-negative number"),
    "adversary-negative": ([*SS, "model.adversary=-0.5"], "model.adversary must be a non-negative number"),
    "consistency-negative": ([*SS, "model.consistency=-1"], "model.consistency must be a non-negative number"),
    "consistency-shift-zero": ([*SS, "model.consistency_shift=0"], "model.consistency_shift must be a positive"),
    "bits-negative": (["model.bits=-1"], "model.bits must be 0"),
    "epochs-zero": (["train.epochs=0"], "train.epochs must be a positive integer"),
    "batch-size-zero": (["train.batch_size=0"], "train.batch_size must be a positive integer"),
    "lr-zero": (["train.lr=0"], "train.lr must be a positive number"),
    "lr-negative": (["train.lr=-0.001"], "train.lr must be a positive number"),
    "warmup-negative": (["train.kl_warmup_epochs=-1"], "train.kl_warmup_epochs must be a non-negative number"),
    "patience-negative": (["train.patience=-1"], "train.patience must be"),
    "grad-clip-negative": (["train.grad_clip=-1"], "train.grad_clip must be"),
    "labelled-per-batch-negative": (["train.labelled_per_batch=-1"], "train.labelled_per_batch must be"),
    "labelled-per-batch-whole-batch": (["train.labelled_per_batch=128"], "less than train.batch_size"),
    "on-divergence-unknown": (["train.on_divergence=ignore"], "train.on_divergence must be one of stop, rollback"),
    "max-rollbacks-negative": (["train.max_rollbacks=-1"], "train.max_rollbacks must be"),
    "divergence-factor-below-one": (["train.divergence_factor=0.5"], "train.divergence_factor must be 0"),
    "ddp-timeout-zero": (["train.ddp_timeout=0"], "train.ddp_timeout must be a positive number of seconds"),
    "eval-samples-zero": (["eval.samples=0"], "eval.samples must be a positive integer"),
    "eval-batch-size-zero": (["eval.batch_size=0"], "eval.batch_size must be a positive integer"),
    "eval-workers-zero": (["eval.workers=0"], "workers"),
}


@pytest.mark.parametrize(("overrides", "message"), SECTION_CASES.values(), ids=SECTION_CASES.keys())
def test_a_section_value_out_of_range_is_a_one_line_error(overrides, message):
    with pytest.raises(ConfigError) as error:
        resolve_config(None, overrides)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "section",
    [
        {"train": {"lr": math.inf}},
        {"train": {"kl_warmup_epochs": math.inf}},
        {"train": {"grad_clip": math.nan}},
        {"train": {"ddp_timeout": math.inf}},
    ],
    ids=["lr-inf", "warmup-inf", "grad-clip-nan", "ddp-timeout-inf"],
)
def test_non_finite_numbers_from_a_file_or_python_are_refused(section):
    with pytest.raises(ConfigError, match="must be"):
        resolve_config(section)


@pytest.mark.parametrize(
    "overrides", [["seed=0"], ["seed=4294967295"], ["eval.seed=4294967295"], ["train.divergence_factor=0"]]
)
def test_the_ends_of_the_ranges_are_accepted(overrides):
    resolve_config(None, overrides)


def _component(key: str, name: str, option: str, value: str) -> list[str]:
    return [f"{key}={name}", f"{key}.{option}={value}"]


COMPONENT_CASES = {
    "adam-weight-decay": ("train.optimizer", "adam", "weight_decay", "-1", "a non-negative number"),
    "adam-beta-one": ("train.optimizer", "adam", "betas", "[1, 0.9]", "two numbers in [0, 1)"),
    "adam-one-beta": ("train.optimizer", "adam", "betas", "[0.9]", "two numbers in [0, 1)"),
    "adam-fused-number": ("train.optimizer", "adam", "fused", "1", "true or false (or left out: automatic)"),
    "adamw-weight-decay": ("train.optimizer", "adamw", "weight_decay", "-0.1", "a non-negative number"),
    "sgd-momentum-negative": ("train.optimizer", "sgd", "momentum", "-0.1", "a number in [0, 1)"),
    "sgd-momentum-one": ("train.optimizer", "sgd", "momentum", "1", "a number in [0, 1)"),
    "cosine-min-lr-negative": ("train.scheduler", "cosine", "min_lr", "-1", "a non-negative number"),
    "exponential-gamma-zero": ("train.scheduler", "exponential", "gamma", "0", "a number in (0, 1]"),
    "exponential-gamma-above-one": ("train.scheduler", "exponential", "gamma", "1.5", "a number in (0, 1]"),
    "step-size-zero": ("train.scheduler", "step", "step_size", "0", "a positive integer"),
    "step-size-fraction": ("train.scheduler", "step", "step_size", "2.5", "a positive integer"),
    "step-gamma-negative": ("train.scheduler", "step", "gamma", "-0.1", "a number in (0, 1]"),
    **{
        f"{name}-no-particles": ("train.estimator", name, "num_particles", "0", "a positive integer")
        for name in ESTIMATORS.names()
    },
    "trace-vectorize-number": ("train.estimator", "trace", "vectorize_particles", "1", "true or false"),
    "renyi-alpha-one": (
        "train.estimator",
        "renyi",
        "alpha",
        "1",
        "a finite number other than 1 (that is the ELBO: use 'trace')",
    ),
    "graph-beta-one": ("train.estimator", "graph", "beta", "1", "a number in [0, 1)"),
    "graph-baseline-unknown": ("train.estimator", "graph", "baseline", "mean", "one of decaying, learned, none"),
    "relaxed-temperature-zero": ("train.estimator", "relaxed", "temperature", "0", "a positive number"),
    "relaxed-min-temperature-negative": ("train.estimator", "relaxed", "min_temperature", "-1", "a positive number"),
    "relaxed-anneal-rate-negative": ("train.estimator", "relaxed", "anneal_rate", "-1", "a non-negative number"),
    "relaxed-straight-through-number": ("train.estimator", "relaxed", "straight_through", "1", "true or false"),
    "enum-max-bits-zero": ("train.estimator", "enum", "max_bits", "0", "a positive integer"),
    "bernoulli-probs-zero": ("model.prior", "bernoulli", "probs", "0", "a number in (0, 1)"),
    "bernoulli-probs-one": ("model.prior", "bernoulli", "probs", "1", "a number in (0, 1)"),
    "bernoulli-learn-number": ("model.prior", "bernoulli", "learn", "1", "true or false"),
    "laplace-prior-scale-zero": ("model.prior", "laplace", "scale", "0", "a positive number"),
    "mixture-components-zero": ("model.prior", "mixture", "components", "0", "a positive integer"),
    "mixture-spread-negative": ("model.prior", "mixture", "spread", "-1", "a positive number"),
    "vamp-components-zero": ("model.prior", "vamp", "components", "0", "a positive integer"),
    "vamp-init-std-zero": ("model.prior", "vamp", "init_std", "0", "a positive number"),
    "normal-likelihood-scale-zero": ("model.likelihood", "normal", "scale", "0", "a positive number"),
    "normal-likelihood-learn-scale-number": ("model.likelihood", "normal", "learn_scale", "1", "true or false"),
    "laplace-likelihood-scale-negative": ("model.likelihood", "laplace", "scale", "-1", "a positive number"),
    "mlp-hidden-zero": ("model.network", "mlp", "hidden", "[0]", "a list of positive integers"),
    "mlp-activation-unknown": ("model.network", "mlp", "activation", "swish", ACTIVATIONS_LISTED),
    "conv-channels-empty": ("model.network", "conv", "channels", "[]", "a non-empty list of positive integers"),
    "conv-fc-zero": ("model.network", "conv", "fc", "0", "a positive integer"),
}


@pytest.mark.parametrize(("key", "name", "option", "value", "message"), COMPONENT_CASES.values(), ids=COMPONENT_CASES)
def test_a_component_option_out_of_range_is_refused_when_the_config_is_read(key, name, option, value, message):
    with pytest.raises(ConfigError) as error:
        resolve_config(None, _component(key, name, option, value))
    kind = key.split(".")[1]
    assert str(error.value).startswith(f"{kind} {name!r}: option {option!r} must be {message}, got ")


@pytest.mark.parametrize(
    ("spec", "option"),
    [
        ({"train": {"estimator": {"name": "tail_adaptive", "beta": math.inf}}}, "beta"),
        ({"train": {"estimator": {"name": "renyi", "alpha": math.nan}}}, "alpha"),
        ({"model": {"prior": {"name": "vamp", "init_mean": math.inf}}}, "init_mean"),
    ],
    ids=["tail-adaptive-beta-inf", "renyi-alpha-nan", "vamp-init-mean-inf"],
)
def test_non_finite_component_options_are_refused(spec, option):
    with pytest.raises(ConfigError, match=f"option '{option}' must be"):
        resolve_config(spec)


REGISTRIES = [OPTIMIZERS, SCHEDULERS, ESTIMATORS, PRIORS, LIKELIHOODS, NETWORKS]


@pytest.mark.parametrize("registry", REGISTRIES, ids=[registry.kind for registry in REGISTRIES])
def test_every_registered_option_has_a_range(registry):
    missing = {name: set(registry.options(name)) - set(registry.ranges(name)) for name in registry.names()}
    assert not {name: options for name, options in missing.items() if options}


@pytest.mark.parametrize("registry", REGISTRIES, ids=[registry.kind for registry in REGISTRIES])
def test_every_default_is_inside_its_own_range(registry):
    for name in registry.names():
        defaults = registry.options(name)
        for option, bound in registry.ranges(name).items():
            if defaults[option] is not None:
                assert bound.accepts(defaults[option]), (name, option, defaults[option])
