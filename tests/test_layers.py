"""The import layers of the README's "Layout", as import-linter checks them, and what they buy at run time."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import pyro_vae
from pyro_vae.config import ModelConfig, RunConfig, validate_config
from pyro_vae.errors import ConfigError
from pyro_vae.kinds import MODEL_KINDS, DataShape, ModelKind

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("lint_imports", ROOT / "tools" / "lint_imports.py")
lint_imports = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lint_imports)


def _staged_with(tmp_path: Path, module: str, line: str) -> subprocess.CompletedProcess[str]:
    """Lint a staged copy in which ``module`` (a path under the staged root) starts with ``line``."""
    staged = lint_imports.stage(tmp_path / "staged")
    path = staged / module
    path.write_text(line + "\n" + path.read_text())
    return lint_imports.lint(staged)


def test_every_contract_is_kept(tmp_path):
    result = lint_imports.lint(lint_imports.stage(tmp_path / "staged"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    # models/ and guides/ are part of what was analysed (they install inside pyro_vae)
    assert "KEPT" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("pyro_vae/priors/gaussian.py", "import pyro_vae.vae", "pyro_vae.priors is not allowed to import pyro_vae.vae"),
        ("pyro_vae/models/vae.py", "import pyro_vae.training", "pyro_vae.models is not allowed to import"),
        ("pyro_vae/config/schema.py", "import pyro_vae.ss_vae", "pyro_vae.config is not allowed to import"),
        ("pyro_vae/data/features.py", "import pyro_vae.assemble", "pyro_vae.data is not allowed to import"),
        ("pyro_vae/plots/latent.py", "import pyro_vae.vae", "pyro_vae.plots is not allowed to import"),
        ("pyro_vae/errors.py", "import pyro_vae.registry", "pyro_vae.errors is not allowed to import"),
    ],
    ids=[
        "component-imports-kind",
        "program-imports-training",
        "config-imports-kind",
        "data-imports-assemble",
        "plots-import-model",
        "core-imports-registry",
    ],
)
def test_an_upward_import_breaks_the_layers(tmp_path, module, line, broken):
    result = _staged_with(tmp_path, module, line)
    assert result.returncode != 0
    assert broken in result.stdout


def test_a_cycle_between_siblings_is_caught(tmp_path):
    # comparison.results <- comparison.report today; the reverse edge closes a cycle inside one layer
    result = _staged_with(tmp_path, "pyro_vae/comparison/results.py", "import pyro_vae.comparison.report")
    assert result.returncode != 0
    assert "No cycles are allowed in pyro_vae.comparison" in result.stdout


def test_checking_a_config_imports_no_model_kind_training_or_pictures():
    code = (
        "import sys, pyro_vae.config as c;"
        "c.resolve_config('examples/configs/digits.toml', **{'model.kind': 'ss_vae'});"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('pyro_vae'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    loaded = set(out.split())
    assert "pyro_vae.config.validate" in loaded and "pyro_vae.kinds" in loaded
    for module in (
        "pyro_vae.vae",
        "pyro_vae.ss_vae",
        "pyro_vae.training",
        "pyro_vae.evaluation",
        "pyro_vae.plots",
        "pyro_vae.api",
        "pyro_vae.assemble",
        "pyro_vae.vae_pictures",
        "pyro_vae.ss_vae_pictures",
    ):
        assert module not in loaded


def build_toy_kind(config: ModelConfig, shape: DataShape) -> str:
    """A stand-in builder for a kind declared by a test."""
    return f"toy z_dim={config.z_dim} shape={shape.event_shape} features={config.features}"


@pytest.fixture
def toy_kind(monkeypatch):
    monkeypatch.setattr(MODEL_KINDS, "_factories", dict(MODEL_KINDS._factories))
    MODEL_KINDS.register("toy")(
        ModelKind(builder=f"{__name__}:build_toy_kind", default_estimator="meanfield", options={"features": 8})
    )
    return MODEL_KINDS.get("toy")


def test_a_new_kind_is_one_table_entry_and_config_accepts_it(toy_kind):
    config = validate_config(RunConfig(model=ModelConfig(kind="toy", features=16)))
    assert config.train.estimator == "meanfield"
    assert toy_kind.build(config.model, DataShape((3,))) == "toy z_dim=2 shape=(3,) features=16"
    # an option of another kind is still refused for it, and its own option for the others
    with pytest.raises(ConfigError, match=r"model\.bits applies to model kind 'vae' only, not 'toy'"):
        validate_config(RunConfig(model=ModelConfig(kind="toy", bits=3)))
    with pytest.raises(ConfigError, match=r"model\.alpha applies to model kind 'ss_vae' only"):
        validate_config(RunConfig(model=ModelConfig(kind="toy", alpha=2.0)))


def test_a_kind_whose_builder_cannot_be_imported_says_so():
    kind = ModelKind(builder="pyro_vae.no_such_module:build")
    with pytest.raises(ConfigError, match=r"model kind builder .pyro_vae\.no_such_module:build. cannot be imported"):
        kind.build(ModelConfig(), DataShape((3,)))
    with pytest.raises(ValueError, match="must be 'module:function'"):
        ModelKind(builder="pyro_vae.vae")


def test_the_semi_supervised_defaults_come_from_the_kind_table():
    from pyro_vae.ss_vae import SS_OPTIONS

    assert dict(SS_OPTIONS) == dict(MODEL_KINDS.get("ss_vae").options)
    assert SS_OPTIONS["alpha"] == 100.0 and SS_OPTIONS["consistency_shift"] is None  # None: from the image size


@pytest.mark.parametrize("name", pyro_vae.__all__)
def test_every_public_name_still_resolves(name):
    assert getattr(pyro_vae, name) is not None
    assert name in dir(pyro_vae)


def test_an_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'fitt'"):
        pyro_vae.fitt  # noqa: B018
