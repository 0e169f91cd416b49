"""Tests of the configuration layer: TOML in and out, overrides, layering and validation errors."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from pyro_vae.config import (
    DataConfig,
    EvalConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    config_from_dict,
    config_to_dict,
    dumps_toml,
    parse_assignment,
    read_toml,
    resolve_config,
    write_toml,
)
from pyro_vae.data import DATASETS
from pyro_vae.errors import ConfigError
from pyro_vae.estimators import ESTIMATORS
from pyro_vae.likelihoods import LIKELIHOODS
from pyro_vae.networks import NETWORKS
from pyro_vae.optim import OPTIMIZERS, SCHEDULERS
from pyro_vae.priors import PRIORS

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "configs"


def _round_trip(config: RunConfig, tmp_path: Path) -> RunConfig:
    path = tmp_path / "config.toml"
    path.write_text(dumps_toml(config_to_dict(config)))
    return config_from_dict(read_toml(path))


# --------------------------------------------------------------------------- TOML round trip


def test_round_trip_of_defaults(tmp_path: Path) -> None:
    config = RunConfig()
    assert _round_trip(config, tmp_path) == config


def test_round_trip_of_every_field_set(tmp_path: Path) -> None:
    config = RunConfig(
        seed=42,
        data=DataConfig(
            name="image_folder",
            root="some/root",
            download=True,
            path='C:\\data "quoted"/caf\u00e9 dir',
            key="x",
            label_key="y",
            label_column=3,
            delimiter="\t",
            image_size=[28, 32],
            grayscale=False,
            scale=255.0,
            binarize="fixed",
            val_fraction=0.25,
            test_fraction=0.05,
            split_seed=7,
            limit=123,
        ),
        model=ModelConfig(
            z_dim=16,
            prior={"name": "mixture", "components": 10, "spread": 2.5},
            likelihood={"name": "normal", "scale": 0.5, "learn_scale": False},
            network={"name": "conv", "channels": [16, 32], "fc": 128, "activation": "elu"},
        ),
        train=TrainConfig(
            epochs=3,
            batch_size=64,
            lr=1e-20,
            optimizer={"name": "adam", "betas": [0.5, 0.9], "weight_decay": 0.0},
            scheduler={"name": "step", "step_size": 5, "gamma": 0.5},
            estimator={"name": "trace", "num_particles": 4, "vectorize_particles": False},
            kl_warmup_epochs=2.5,
            patience=0,
            grad_clip=10.0,
        ),
        eval=EvalConfig(samples=50, batch_size=25, seed=9),
    )
    back = _round_trip(config, tmp_path)
    assert back == config
    assert back.data.path == 'C:\\data "quoted"/caf\u00e9 dir'
    assert back.train.lr == 1e-20


def test_round_trip_of_label_column_by_name(tmp_path: Path) -> None:
    config = resolve_config(None, **{"data.name": "csv", "data.path": "t.csv", "data.label_column": "label"})
    assert _round_trip(config, tmp_path) == config


def test_inline_table_component_is_read_written_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(
        'seed = 3\n\n[model]\nprior = {name = "mixture", components = 10}\n'
        'network = {name = "mlp", hidden = [64, 32]}\n\n[train]\nepochs = 5\n'
    )
    config = resolve_config(path)
    assert config.model.prior == {"name": "mixture", "components": 10}
    assert config.model.network == {"name": "mlp", "hidden": [64, 32]}
    text = dumps_toml(config_to_dict(config))
    assert 'prior = {name = "mixture", components = 10}' in text
    assert _round_trip(config, tmp_path) == config


def test_none_fields_are_left_out_of_the_dict_and_the_toml() -> None:
    values = config_to_dict(RunConfig())
    assert "root" not in values["data"] and "path" not in values["data"]
    assert values["seed"] == 0 and set(values) == {"seed", "data", "model", "train", "eval"}
    assert "root" not in dumps_toml(values)


def test_write_toml_leaves_no_temporary_file(tmp_path: Path) -> None:
    config = resolve_config(None, epochs=4)
    path = tmp_path / "config.toml"
    write_toml(config_to_dict(config), path)
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]
    assert config_from_dict(read_toml(path)) == config


def test_resolve_config_accepts_a_run_config() -> None:
    config = resolve_config(None, z_dim=5, prior="laplace")
    assert resolve_config(config) == config


# --------------------------------------------------------------------------- parse_assignment


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("model.z_dim=10", "model.z_dim", 10),
        ("train.lr=1e-3", "train.lr", 1e-3),
        ("train.lr = 0.5", "train.lr", 0.5),
        ("data.download=true", "data.download", True),
        ("data.grayscale=false", "data.grayscale", False),
        ("model.network.hidden=[256, 128]", "model.network.hidden", [256, 128]),
        ('data.path="my file.csv"', "data.path", "my file.csv"),
        ("model.prior=mixture", "model.prior", "mixture"),
        ("data.root=../shared/data", "data.root", "../shared/data"),
        ("data.delimiter=;", "data.delimiter", ";"),
        ("data.path=a=b", "data.path", "a=b"),
        ('model.prior={name = "mixture", components = 3}', "model.prior", {"name": "mixture", "components": 3}),
    ],
    ids=[
        "int",
        "float-exponent",
        "spaces",
        "true",
        "false",
        "list",
        "quoted-string",
        "bare-name",
        "bare-path",
        "bare-punctuation",
        "second-equals-kept",
        "inline-table",
    ],
)
def test_parse_assignment(text: str, key: str, value: object) -> None:
    got_key, got_value = parse_assignment(text)
    assert got_key == key
    assert got_value == value
    assert type(got_value) is type(value)


@pytest.mark.parametrize("text", ["model.z_dim", "=5", "  = 3"], ids=["no-equals", "no-key", "blank-key"])
def test_parse_assignment_needs_key_and_equals(text: str) -> None:
    with pytest.raises(ConfigError, match=r"--set expects key=value \(e\.g\. model\.z_dim=10\)"):
        parse_assignment(text)


# --------------------------------------------------------------------------- layering


def test_defaults_when_nothing_is_given() -> None:
    config = resolve_config()
    defaults = RunConfig()
    assert defaults.train.estimator == "auto"
    assert config == dataclasses.replace(defaults, train=dataclasses.replace(defaults.train, estimator="trace"))
    assert config.data.name == "digits" and config.model.prior == "normal"


@pytest.mark.parametrize(("kind", "estimator"), [("vae", "trace"), ("ss_vae", "enum")])
def test_auto_estimator_is_the_kind_s_default(kind: str, estimator: str) -> None:
    assert resolve_config(kind=kind).train.estimator == estimator
    assert resolve_config(kind=kind, estimator="graph").train.estimator == "graph"


def test_semi_supervised_options_are_refused_for_a_plain_vae() -> None:
    with pytest.raises(ConfigError, match=r"model\.alpha applies to model kind .ss_vae. only, not .vae."):
        resolve_config(alpha=2.0)
    assert resolve_config(kind="ss_vae", alpha=2.0).model.alpha == 2.0


def test_file_then_keywords_then_overrides_in_order(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text("seed = 1\n[model]\nz_dim = 4\n[train]\nepochs = 7\nlr = 0.01\n")
    config = resolve_config(
        path,
        overrides=["train.epochs=9", "seed=5", "train.epochs=11"],
        epochs=8,
        z_dim=6,
        seed=2,
    )
    assert config.train.epochs == 11  # the last override wins over keyword and file
    assert config.seed == 5  # override over keyword over file
    assert config.model.z_dim == 6  # keyword over file
    assert config.train.lr == 0.01  # file over default
    assert config.train.batch_size == TrainConfig().batch_size  # default


def test_resolve_config_does_not_modify_the_callers_dict() -> None:
    values = {"train": {"epochs": 3}, "model": {"prior": "mixture"}}
    config = resolve_config(values, overrides=["model.prior.components=4", "train.epochs=5"])
    assert config.train.epochs == 5
    assert values == {"train": {"epochs": 3}, "model": {"prior": "mixture"}}


def test_component_option_override_turns_a_name_into_a_table() -> None:
    config = resolve_config(None, prior="mixture", overrides=["model.prior.components=5"])
    assert config.model.prior == {"name": "mixture", "components": 5}


def test_component_option_override_extends_an_existing_table() -> None:
    config = resolve_config(
        None,
        model={"prior": {"name": "mixture", "components": 3}},
        overrides=["model.prior.spread=2.0"],
    )
    assert config.model.prior == {"name": "mixture", "components": 3, "spread": 2.0}


def test_component_option_override_of_the_default_component() -> None:
    config = resolve_config(None, overrides=["model.network.hidden=[32]"])
    assert config.model.network == {"name": "mlp", "hidden": [32]}


def test_component_option_as_dotted_python_keyword() -> None:
    config = resolve_config(None, **{"train.scheduler": "step", "train.scheduler.step_size": 3})
    assert config.train.scheduler == {"name": "step", "step_size": 3}


def test_field_in_several_sections_goes_to_train() -> None:
    config = resolve_config(None, batch_size=32)
    assert config.train.batch_size == 32
    assert config.eval.batch_size == EvalConfig().batch_size


def test_other_batch_size_reached_by_section_or_dotted_key() -> None:
    config = resolve_config(None, eval={"batch_size": 7}, **{"train.batch_size": 9})
    assert (config.train.batch_size, config.eval.batch_size) == (9, 7)


def test_seed_keyword_is_the_top_level_seed() -> None:
    config = resolve_config(None, seed=3)
    assert config.seed == 3 and config.eval.seed == 0


@pytest.mark.parametrize(
    ("keywords", "check"),
    [
        ({"name": "mnist"}, lambda c: c.data.name == "mnist"),
        ({"prior": "mixture"}, lambda c: c.model.prior == "mixture"),
        ({"lr": 0.1}, lambda c: c.train.lr == 0.1),
        ({"samples": 10}, lambda c: c.eval.samples == 10),
        ({"lr": 1}, lambda c: c.train.lr == 1.0 and isinstance(c.train.lr, float)),
        ({"scale": 255}, lambda c: c.data.scale == 255.0 and isinstance(c.data.scale, float)),
    ],
    ids=["data-field", "model-field", "train-field", "eval-field", "int-to-float", "int-scale-to-float"],
)
def test_field_name_keywords(keywords: dict, check) -> None:
    assert check(resolve_config(None, **keywords))


def test_whole_section_keywords_merge_key_by_key(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text("[train]\nepochs = 7\nlr = 0.01\n")
    config = resolve_config(path, train={"epochs": 3}, model={"z_dim": 3, "prior": "laplace"})
    assert config.train.epochs == 3
    assert config.train.lr == 0.01  # kept from the file: the section is merged, not replaced
    assert (config.model.z_dim, config.model.prior) == (3, "laplace")


def test_tuple_in_python_becomes_list() -> None:
    config = resolve_config(None, **{"data.name": "image_folder", "data.path": "imgs", "data.image_size": (8, 8)})
    assert config.data.image_size == [8, 8]


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize("name", ["digits.toml", "mnist.toml"], ids=["digits", "mnist"])
def test_example_configs_resolve(name: str) -> None:
    config = resolve_config(EXAMPLES / name)
    assert config.data.name == name.removesuffix(".toml")
    assert config.data.binarize == "dynamic"
    assert isinstance(config.model.network, dict) and config.model.network["name"] == "mlp"


def test_mnist_example_takes_a_root_override() -> None:
    config = resolve_config(EXAMPLES / "mnist.toml", overrides=["data.root=../shared/data"])
    assert config.data.root == "../shared/data"
    assert config.train.scheduler == {"name": "exponential", "gamma": 0.97}


# --------------------------------------------------------------------------- unknown keys


@pytest.mark.parametrize(
    ("source", "keywords", "overrides", "pattern"),
    [
        (
            None,
            {"train": {"epoch": 3}},
            [],
            "unknown key in [train]: 'epoch' (did you mean 'epochs'?); valid keys: epochs, batch_size, lr,",
        ),
        (
            None,
            {},
            ["model.zdim=3"],
            "unknown key in [model]: 'zdim' (did you mean 'z_dim'?); "
            "valid keys: kind, z_dim, prior, likelihood, network",
        ),
        (
            None,
            {},
            ["data.val_frac=0.2"],
            "unknown key in [data]: 'val_frac' (did you mean 'val_fraction'?); valid keys: name, root,",
        ),
        (
            None,
            {"trian": {"epochs": 3}},
            [],
            "unknown key 'trian' (did you mean 'train'?); valid keys:",
        ),
        (None, {"epoch": 3}, [], "unknown key 'epoch' (did you mean 'epochs'?); valid keys:"),
        (
            {"model": {"prior": "normal"}, "evals": {}},
            {},
            [],
            "unknown key 'evals' (did you mean 'eval'?); valid keys: seed, data, model, train, eval",
        ),
    ],
    ids=["train-section", "model-override", "data-override", "section-keyword", "field-keyword", "section-in-dict"],
)
def test_misspelled_key_suggests_and_lists_valid_keys(source, keywords, overrides, pattern) -> None:
    with pytest.raises(ConfigError, match=re.escape(pattern)):
        resolve_config(source, overrides=overrides, **keywords)


def test_misspelled_key_in_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text("[train]\nepochs = 3\nbatchsize = 10\n")
    with pytest.raises(ConfigError, match=re.escape("in [train]: 'batchsize' (did you mean 'batch_size'?)")):
        resolve_config(path)


def test_section_that_is_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text("train = 5\n")
    with pytest.raises(ConfigError, match=re.escape("[train] must be a table of keys, got 5")):
        resolve_config(path)


def test_override_with_more_than_three_parts() -> None:
    with pytest.raises(ConfigError, match="at most three parts"):
        resolve_config(overrides=["model.prior.components.x=1"])


def test_option_override_on_a_plain_field() -> None:
    with pytest.raises(ConfigError, match=re.escape("train.epochs is not a named component with options")):
        resolve_config(overrides=["train.epochs.x=1"])


def test_section_keyword_that_is_not_a_table_says_so() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config(data="digits")
    assert "unknown key" not in str(info.value)
    assert "table" in str(info.value)


def test_unknown_keyword_lists_each_valid_key_once() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config(epoch=3)
    keys = str(info.value).split("valid keys: ")[1].split(", ")
    assert len(keys) == len(set(keys))


def test_misspelled_field_in_an_option_override_suggests_the_field() -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'prior'"):
        resolve_config(overrides=["model.priorr.components=5"])


# --------------------------------------------------------------------------- unknown names and options


@pytest.mark.parametrize(
    ("override", "kind", "registry", "suggestion"),
    [
        ("model.prior=mixtur", "prior", PRIORS, "mixture"),
        ("model.likelihood=bernouli", "likelihood", LIKELIHOODS, "bernoulli"),
        ("model.network=cnn", "network", NETWORKS, None),
        ("train.estimator=traces", "estimator", ESTIMATORS, "trace"),
        ("train.optimizer=adamm", "optimizer", OPTIMIZERS, "adam"),
        ("train.scheduler=cosin", "scheduler", SCHEDULERS, "cosine"),
        ("data.name=mnst", "data source", DATASETS, "mnist"),
        ('model.prior={name = "vampire"}', "prior", PRIORS, None),
    ],
    ids=["prior", "likelihood", "network", "estimator", "optimizer", "scheduler", "data-source", "name-in-table"],
)
def test_unknown_component_name_lists_valid_names(override: str, kind: str, registry, suggestion) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config(overrides=[override])
    message = str(info.value)
    assert f"unknown {kind} " in message
    assert f"valid {kind} names: {', '.join(registry.names())}" in message
    if suggestion:
        assert f"(did you mean {suggestion!r}?)" in message


def test_known_names_are_listed() -> None:
    # guards the test above against empty registries
    assert {"normal", "mixture"} <= set(PRIORS.names())
    assert {"bernoulli", "categorical256", "poisson"} <= set(LIKELIHOODS.names())
    assert {"digits", "mnist", "npy", "npz", "csv", "image_folder", "array"} <= set(DATASETS.names())


@pytest.mark.parametrize(
    ("keywords", "overrides", "pattern"),
    [
        (
            {"model": {"prior": {"name": "mixture", "component": 3}}},
            [],
            "prior 'mixture' has no option 'component' (did you mean 'components'?); "
            "its options are: components, spread",
        ),
        ({}, ["model.prior.components=5"], "prior 'normal' has no option 'components'; its options are: none"),
        (
            {},
            ["train.optimizer.momentum=0.5"],
            "optimizer 'adam' has no option 'momentum'; its options are: weight_decay, betas, fused",
        ),
        (
            {"likelihood": {"name": "bernoulli", "scale": 2.0}},
            [],
            "likelihood 'bernoulli' has no option 'scale'; its options are: none",
        ),
        (
            {},
            ["model.network.hiden=[3]"],
            "network 'mlp' has no option 'hiden' (did you mean 'hidden'?); its options are: hidden, activation",
        ),
        (
            {},
            ["train.scheduler=step", "train.scheduler.gama=0.5"],
            "scheduler 'step' has no option 'gama' (did you mean 'gamma'?)",
        ),
        (
            {},
            ["train.estimator.particles=3"],
            "estimator 'trace' has no option 'particles' (did you mean 'num_particles'?)",
        ),
        (
            {"model": {"likelihood": {"name": "normal", "context": 1}}},
            [],
            "likelihood 'normal' has no option 'context'; its options are: scale, learn_scale",
        ),
        (
            {},
            ["data.path=mine.npz"],
            "data source 'digits' has no option 'path'; its options are: none; it is an option of ",
        ),
    ],
    ids=[
        "prior",
        "option-on-plain-name",
        "optimizer",
        "likelihood",
        "network",
        "scheduler",
        "estimator",
        "normal",
        "option-of-other-names",
    ],
)
def test_unknown_component_option(keywords: dict, overrides: list, pattern: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(pattern)):
        resolve_config(None, overrides=overrides, **keywords)


def test_context_argument_is_not_an_option() -> None:
    with pytest.raises(ConfigError, match=re.escape("likelihood 'normal' has no option 'event_shape'")):
        resolve_config(None, likelihood={"name": "normal", "event_shape": [3]})


def test_component_table_without_name() -> None:
    with pytest.raises(ConfigError, match=r"prior spec \{'components': 3\} has no 'name'"):
        resolve_config(overrides=["model.prior={components = 3}"])


def test_component_of_the_wrong_type() -> None:
    with pytest.raises(ConfigError, match=re.escape("model.prior must be a name or a table with a 'name' key, got 5")):
        resolve_config(overrides=["model.prior=5"])


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"data.key": "x"}, "data source 'digits' has no option 'key'; its options are: none"),
        ({"data.root": "data"}, "data source 'digits' has no option 'root'; its options are: none"),
        (
            {"data.name": "npy", "data.path": "x.npy", "data.download": True},
            "data source 'npy' has no option 'download'; its options are: path",
        ),
        (
            {"data.name": "csv", "data.path": "x.csv", "data.image_size": [8, 8]},
            "data source 'csv' has no option 'image_size'; its options are: path, label_column, delimiter",
        ),
        (
            {"data.name": "mnist", "data.path": "x.npy"},
            "data source 'mnist' has no option 'path'; its options are: root, download",
        ),
        (
            {"data.name": "npz", "data.path": "x.npz", "data.label_column": 0},
            "data source 'npz' has no option 'label_column'",
        ),
    ],
    ids=["key-digits", "root-digits", "download-npy", "image-size-csv", "path-mnist", "label-column-npz"],
)
def test_source_option_that_does_not_apply(options: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(pattern)):
        resolve_config(None, **options)


@pytest.mark.parametrize(
    "options",
    [
        {"data.name": "npz", "data.path": "x.npz", "data.key": "a", "data.label_key": "b"},
        {"data.name": "csv", "data.path": "x.csv", "data.label_column": "y", "data.delimiter": ";"},
        {"data.name": "image_folder", "data.path": "imgs", "data.image_size": [8, 8], "data.grayscale": True},
        {"data.name": "mnist", "data.root": "somewhere", "data.download": True},
        {"data.name": "array"},
    ],
    ids=["npz", "csv", "image-folder", "mnist", "array"],
)
def test_source_options_that_apply_are_accepted(options: dict) -> None:
    config = resolve_config(None, **options)
    assert config.data.source_spec() == {"name": options["data.name"]} | {
        k.removeprefix("data."): v for k, v in options.items() if k != "data.name"
    }


# --------------------------------------------------------------------------- types and ranges


@pytest.mark.parametrize(
    ("override", "pattern"),
    [
        ("train.epochs=abc", "train.epochs must be an integer, got 'abc'"),
        ("train.epochs=2.5", "train.epochs must be an integer, got 2.5"),
        ("model.z_dim=true", "model.z_dim must be an integer, got True"),
        ("train.lr=fast", "train.lr must be a number, got 'fast'"),
        ("data.download=yes", "data.download must be true/false, got 'yes'"),
        ("data.val_fraction=[0.1]", "data.val_fraction must be a number, got [0.1]"),
        ("data.label_column=1.5", "data.label_column must be a string or an integer, got 1.5"),
        ("seed=abc", "seed must be an integer, got 'abc'"),
        ("data.root=3", "data.root must be a string, got 3"),
    ],
    ids=["int-text", "int-float", "int-bool", "float-text", "bool-text", "float-list", "str-or-int", "seed", "str-int"],
)
def test_wrong_value_type(override: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(pattern)):
        resolve_config(overrides=[override])


def test_wrong_value_type_as_python_keyword() -> None:
    with pytest.raises(ConfigError, match=re.escape("train.epochs must be an integer, got 'abc'")):
        resolve_config(None, **{"train.epochs": "abc"})


def test_wrong_list_element_type_is_worded_correctly() -> None:
    with pytest.raises(ConfigError, match=re.escape("data.image_size must be an integer or a list of integers")):
        resolve_config(None, **{"data.name": "image_folder", "data.path": "x", "data.image_size": [28, "a"]})


@pytest.mark.parametrize(
    ("override", "pattern"),
    [
        ("train.lr=-0.001", "train.lr must be a positive number, got -0.001"),
        ("train.lr=0", "train.lr must be a positive number, got 0.0"),
        ("data.val_fraction=1.0", "data.val_fraction must be a number in (0, 1): the validation split"),
        ("data.val_fraction=0", "data.val_fraction must be a number in (0, 1): the validation split"),
        ("data.val_fraction=1.5", "data.val_fraction must be a number in (0, 1): the validation split"),
        ("data.test_fraction=-0.1", "data.test_fraction must be a number in [0, 1), got -0.1"),
        ("data.val_fraction=0.6", "data.val_fraction + data.test_fraction must be less than 1"),
        ("model.z_dim=0", "model.z_dim must be a positive integer, got 0"),
        ("data.binarize=sometimes", "data.binarize must be one of auto, none, fixed, dynamic, got 'sometimes'"),
        ("data.scale=0", 'data.scale must be "auto" or a positive number, got 0.0'),
        ("data.scale=big", "data.scale must be \"auto\" or a positive number, got 'big'"),
        ("data.limit=-1", "data.limit must be 0 (all examples) or a positive integer, got -1"),
        ("train.epochs=0", "train.epochs must be a positive integer, got 0"),
        ("train.batch_size=0", "train.batch_size must be a positive integer, got 0"),
        ("train.patience=-1", "train.patience must be 0 (no early stopping) or a positive integer, got -1"),
        ("train.grad_clip=-1.0", "train.grad_clip must be 0 (no clipping) or a positive number, got -1.0"),
        ("train.kl_warmup_epochs=-2", "train.kl_warmup_epochs must be a non-negative number, got -2.0"),
        ("eval.samples=0", "eval.samples must be a positive integer, got 0"),
        ("eval.batch_size=-5", "eval.batch_size must be a positive integer, got -5"),
        ("model.kind=gan", "unknown model kind 'gan'"),
    ],
    ids=[
        "negative-lr",
        "zero-lr",
        "val-fraction-1",
        "val-fraction-0",
        "val-fraction-above-1",
        "negative-test-fraction",
        "fractions-sum",
        "z-dim-0",
        "binarize-sometimes",
        "scale-0",
        "scale-text",
        "negative-limit",
        "epochs-0",
        "batch-size-0",
        "negative-patience",
        "negative-grad-clip",
        "negative-warmup",
        "samples-0",
        "eval-batch-size",
        "model-kind",
    ],
)
def test_out_of_range_value(override: str, pattern: str) -> None:
    overrides = [override]
    if override == "data.val_fraction=0.6":
        overrides.append("data.test_fraction=0.4")
    with pytest.raises(ConfigError, match=re.escape(pattern)):
        resolve_config(overrides=overrides)


def test_boundary_values_are_accepted() -> None:
    config = resolve_config(
        overrides=[
            "data.val_fraction=0.5",
            "data.test_fraction=0.49",
            "model.z_dim=1",
            "train.patience=0",
            "data.binarize=none",
            "data.scale=2",
        ]
    )
    assert (config.data.val_fraction, config.model.z_dim, config.data.scale) == (0.5, 1, 2.0)


# --------------------------------------------------------------------------- files


def test_missing_config_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=re.escape(f"config file {str(path)!r} does not exist")):
        resolve_config(path)


def test_missing_config_file_given_as_string(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_config(str(tmp_path / "nope.toml"))


@pytest.mark.parametrize(
    "text",
    ["[train\nepochs = 3\n", "[train]\nepochs = \n", "[train]\nepochs = 3\nepochs = 4\n", 'seed = "unterminated\n'],
    ids=["unclosed-table", "missing-value", "duplicate-key", "unterminated-string"],
)
def test_broken_toml_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(f"config file {str(path)!r} is not valid TOML: ")):
        resolve_config(path)


def test_binary_file_as_config(tmp_path: Path) -> None:
    path = tmp_path / "data.toml"
    path.write_bytes(b"\xff\xfe\x00\x81\x93binary")
    with pytest.raises(ConfigError, match="config file"):
        resolve_config(path)


def test_bad_source_type() -> None:
    with pytest.raises(ConfigError, match="config must be a TOML path, a dict or a RunConfig, got int"):
        resolve_config(5)  # type: ignore[arg-type]


def test_optional_component_specs_accept_names_and_tables() -> None:
    config = resolve_config(kind="ss_vae", classifier={"name": "conv", "channels": [8]})
    assert config.model.classifier == {"name": "conv", "channels": [8]}
    assert resolve_config(kind="ss_vae", classifier="mlp").model.classifier == "mlp"
    with pytest.raises(ConfigError, match=r"model\.classifier must be a string or a table with a 'name' key"):
        resolve_config(kind="ss_vae", classifier=3)
    with pytest.raises(ConfigError, match="unknown network 'cnn'"):
        resolve_config(kind="ss_vae", classifier="cnn")
