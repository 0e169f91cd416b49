"""Bad input gets one clear line before any work starts; ambiguous input is decided out loud.

Issue 13, sections 5 and 7. Fault kinds and their members (cases):

=============================================  ================================================================
kind                                           members
=============================================  ================================================================
a data file that cannot be read ends in a      .npy: empty (0 bytes, EOFError), not NumPy (pickle advice),
traceback or a misleading message              header cut short, data cut short, object dtype, an .npz
                                               given as .npy; memory-mapped: empty, cut short;
                                               .npz: empty, not a zip, cut short, no arrays ("holds arrays :"),
                                               object member, member cut short (ValueError), label member
                                               of objects (ValueError), an .npy given as .npz;
                                               image folder (already clear, pinned here): PNG cut short,
                                               empty PNG, no image files; .csv: see tests/test_data.py
a seed out of range is a raw ValueError        seed, data.split_seed, eval.seed below 0 or from 2**32;
                                               sample --seed
the semi-supervised kind trains without        data.labels = 0; labels all missing in the source;
labels (chance accuracy, no word)              a class without a labelled training example
an option checked only after the work          diagnose --points 5,100000 (after evaluating and rewriting
                                               summary.json); diagnose with fewer than 25 samples (same);
                                               sample --out x.jpg (after loading and sampling);
                                               compare --snr-repeats 1 / --snr-batch 0 (crash after its
                                               directory was made)
a refusal names what the user did not ask for  iwae on binary codes said 'renyi' (its bound class)
Ctrl-C during start-up                         raw KeyboardInterrupt traceback while torch imports
the order of --set flags changes the result    model.prior.components=3 before model.prior=mixture built 10
                                               components; a misspelt option (componets) before the name
                                               was dropped silently; the same through Python keywords and
                                               through fit --resume (train.scheduler.min_lr before
                                               train.scheduler)
input silently read one way of two             a CSV whose header row is the column numbers 0,1,...,D-1
                                               (pandas to_csv) read as one more example; grey images in an
                                               image folder loaded as three channels without a word
=============================================  ================================================================
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import pyro_vae
from pyro_vae import ConfigError, DataError, InputNotice, PyroVAEError
from pyro_vae.cli import main
from pyro_vae.config import resolve_config
from pyro_vae.config.schema import ModelConfig
from pyro_vae.data import csv_file, image_folder, npy_file, npz_file
from pyro_vae.estimators import ESTIMATORS

TINY = ["data.limit=64", "train.epochs=1", "model.network.hidden=[8]", "eval.samples=25"]
CLI_TINY = [arg for item in TINY for arg in ("--set", item)] + ["--no-pictures", "--quiet"]

# --------------------------------------------------------------------------- data files


def _npy_bytes() -> bytes:
    buffer = BytesIO()
    np.save(buffer, np.arange(40, dtype=np.float32).reshape(10, 4))
    return buffer.getvalue()


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


NPY = _npy_bytes()
NPZ = _npz_bytes(x=np.arange(40, dtype=np.float32).reshape(10, 4))


def _zip_member(data: bytes) -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.npy", data)
    return buffer.getvalue()


def _object_npy() -> bytes:
    buffer = BytesIO()
    np.save(buffer, np.array([[1, 2]] * 3, dtype=object), allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "options", "message"),
    [
        ("x.npy", b"", {}, "x.npy is empty (0 bytes): it holds no npy data"),
        ("x.npy", b"hello, not numpy", {}, "x.npy is not a NumPy .npy file"),
        ("x.npy", NPY[:60], {}, "cannot read x.npy as a npy file (EOF: reading array header"),
        ("x.npy", NPY[: len(NPY) // 2], {}, "cannot read x.npy as a npy file (Failed to read all data"),
        ("x.npy", _object_npy(), {}, "x.npy holds Python objects (dtype object), which pyro-vae does not load"),
        ("x.npy", NPZ, {}, 'x.npy is a NumPy .npz file, not .npy: use data.name = "npz"'),
        ("x.npy", b"", {"mmap": True}, "x.npy is empty (0 bytes)"),
        ("x.npy", NPY[: len(NPY) // 2], {"mmap": True}, "cannot read x.npy as a npy file (mmap length"),
        ("x.npz", b"", {}, "x.npz is empty (0 bytes): it holds no npz data"),
        ("x.npz", b"hello, not a zip", {}, "x.npz is not a NumPy .npz file"),
        ("x.npz", NPZ[: len(NPZ) // 2], {}, "cannot read x.npz as a npz file (File is not a zip file)"),
        ("x.npz", _npz_bytes(), {}, "x.npz holds no arrays"),
        ("x.npz", _zip_member(_object_npy()), {}, "array 'x' in x.npz holds Python objects (dtype object)"),
        ("x.npz", _zip_member(NPY[: len(NPY) - 40]), {}, "cannot read array 'x' in x.npz as a npz file (EOF"),
        ("x.npz", NPY, {}, 'x.npz is a NumPy .npy file, not .npz: use data.name = "npy"'),
    ],
    ids=[
        "npy-empty",
        "npy-not-numpy",
        "npy-header-cut",
        "npy-data-cut",
        "npy-objects",
        "npy-holding-npz",
        "npy-mmap-empty",
        "npy-mmap-data-cut",
        "npz-empty",
        "npz-not-zip",
        "npz-cut",
        "npz-no-arrays",
        "npz-object-member",
        "npz-member-cut",
        "npz-holding-npy",
    ],
)
def test_a_damaged_numpy_file_is_one_clear_line(
    tmp_path: Path, name: str, content: bytes, options: dict, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    source = npy_file if name.endswith(".npy") else npz_file
    with pytest.raises(DataError, match=re.escape(message)) as error:
        source(str(path), **options)
    assert "\n" not in str(error.value) and "allow_pickle" not in str(error.value)


def test_an_npz_label_member_of_objects_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=np.ones((4, 2)), y=np.array([None] * 4, dtype=object))
    with pytest.raises(DataError, match=re.escape("array 'y' in d.npz holds Python objects")):
        npz_file(str(path), key="x", label_key="y")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("cut", "cannot read image '{path}' (image file is truncated): remove or replace it"),
        ("empty", "cannot read image '{path}' (cannot identify image file"),
        ("not-an-image", "Found no valid file for the classes c0"),
    ],
    ids=["png-cut-short", "png-empty", "no-image-files"],
)
def test_a_damaged_image_folder_is_one_clear_line(tmp_path: Path, damage: str, message: str) -> None:
    root = _folder(tmp_path / "imgs", grey_rgb=False)
    path = root / "c0" / "0.png"
    if damage == "cut":
        path.write_bytes(path.read_bytes()[:60])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        for image in root.rglob("*.png"):
            image.rename(image.with_suffix(".txt"))
    with pytest.raises(DataError, match=re.escape(message.format(path=path))):
        image_folder(str(root))


def test_fit_on_an_empty_npy_file_is_refused_in_one_line_before_the_run_directory(tmp_path: Path, capsys) -> None:
    data = tmp_path / "empty.npy"
    data.write_bytes(b"")
    out = tmp_path / "run"
    assert main(["fit", "--data", str(data), "--out", str(out), *CLI_TINY]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == "pyro-vae fit: error: empty.npy is empty (0 bytes): it holds no npy data; write the examples into it again\n"
    )
    assert not out.exists()


# --------------------------------------------------------------------------- seeds


@pytest.mark.parametrize(
    ("key", "value"),
    [("seed", -1), ("seed", 2**32), ("data.split_seed", -1), ("data.split_seed", 10**20), ("eval.seed", -5)],
    ids=["seed-negative", "seed-2**32", "split-seed-negative", "split-seed-huge", "eval-seed-negative"],
)
def test_a_seed_out_of_range_is_a_config_error(key: str, value: int) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"{key} must be an integer in [0, 2**32), i.e. 0 to 4294967295")):
        resolve_config(None, [f"{key}={value}"])


@pytest.mark.parametrize("key", ["seed", "data.split_seed", "eval.seed"])
def test_the_largest_seed_is_accepted(key: str) -> None:
    resolve_config(None, [f"{key}={2**32 - 1}"])


# --------------------------------------------------------------------------- semi-supervised labels


def test_ss_vae_without_labelled_examples_is_refused_before_the_run_directory(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(
        DataError, match=re.escape("model kind 'ss_vae' learns from labelled examples, but no training")
    ):
        pyro_vae.fit(overrides=[*TINY, "model.kind=ss_vae", "data.labels=0"], out=out)
    assert not out.exists()


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.full(60, -1), "but no training example keeps a label (data.labels = 0?)"),
        (np.where(np.arange(60) % 2 == 0, 0, 2), "but class(es) 1 have none"),
    ],
    ids=["all-missing", "a-class-never-labelled"],
)
def test_ss_vae_needs_a_labelled_training_example_of_every_class(labels: np.ndarray, message: str) -> None:
    x = np.random.default_rng(0).random((60, 6))
    with pytest.raises(DataError, match=re.escape(message)):
        pyro_vae.fit(data=x, labels=labels, kind="ss_vae", likelihood="normal", epochs=1, features=8, pictures=False)


# --------------------------------------------------------------------------- options checked before the work


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bad_input") / "run"
    pyro_vae.fit(overrides=TINY, out=out, pictures=False)
    return out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--points", "5,100000"], "test indices must be integers in [0, 5]; got [100000]"),
        (["--points", "0"], "points must be a positive integer"),
        (["--samples", "5"], "PSIS needs at least 25 importance samples per test point, got 5"),
        (["--samples", "0"], "eval.samples must be a positive integer, got 0"),
        (["--draws", "0"], "draws must be a positive integer, got 0"),
    ],
    ids=["index-out-of-range", "no-points", "too-few-samples", "zero-samples", "zero-draws"],
)
def test_diagnose_checks_its_options_before_evaluating(run_dir: Path, capsys, argv: list[str], message: str) -> None:
    summary = run_dir / "summary.json"
    before = summary.read_bytes(), summary.stat().st_mtime_ns
    assert main(["diagnose", str(run_dir), *argv]) == 2
    assert message in capsys.readouterr().err
    assert (summary.read_bytes(), summary.stat().st_mtime_ns) == before
    assert not (run_dir / "diagnostics.nc").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out", "x.jpg"], "--out 'x.jpg' must be a .png file"),
        (["--out", "x.png", "--seed", "-1"], "the seed must be an integer in [0, 2**32), got -1"),
        (["--out", "x.png", "--n", "0"], "the number of samples must be a positive integer, got 0"),
    ],
    ids=["not-png", "negative-seed", "no-samples"],
)
def test_sample_checks_its_options_before_loading_the_run(
    tmp_path: Path, capsys, argv: list[str], message: str
) -> None:
    # the run directory does not exist: the option's own error comes first
    assert main(["sample", str(tmp_path / "no-such-run"), *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"snr_repeats": 1}, "snr_repeats (--snr-repeats) must be an integer of at least 2, got 1"),
        ({"snr_batch": 0}, "snr_batch (--snr-batch) must be an integer of at least 1, got 0"),
    ],
    ids=["one-repeat", "empty-batch"],
)
def test_compare_checks_its_snr_options_before_its_directory(tmp_path: Path, option: dict, message: str) -> None:
    out = tmp_path / "cmp"
    with pytest.raises(ConfigError, match=re.escape(message)):
        pyro_vae.compare(None, ["trace"], out=out, overrides=TINY, **option)
    assert not out.exists()


# --------------------------------------------------------------------------- refusals name what was asked


@pytest.mark.parametrize("estimator", ["iwae", "renyi", "dreg", "stl", "tail_adaptive"])
def test_a_particle_estimator_names_itself_when_it_meets_a_binary_code(estimator: str) -> None:
    """At run time too (a VAE built by hand, no config check): iwae used to say 'renyi'."""
    vae = pyro_vae.build_vae(ModelConfig(prior="bernoulli", z_dim=3), (6,))
    loss = ESTIMATORS.build(estimator, max_plate_nesting=1)(vae.model, vae.guide)
    with pytest.raises(ConfigError, match=f"^estimator {estimator!r} needs reparameterized guide sites"):
        loss(torch.bernoulli(torch.full((4, 6), 0.5)))


def test_iwae_on_a_binary_code_is_refused_by_its_own_name(tmp_path: Path, capsys) -> None:
    argv = ["fit", "--set", "model.prior=bernoulli", "--set", "train.estimator=iwae", "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("pyro-vae fit: error: estimator 'iwae' needs reparameterized latents, but model.prior")
    assert "renyi" not in err and err.count("\n") == 1


# --------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_during_start_up_is_one_line_and_status_130(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt  # as if Ctrl-C arrived while the commands (torch, Pyro) were being imported

    monkeypatch.setattr(sys.modules["pyro_vae.cli.main"], "build_parser", interrupted)
    assert main(["fit", "--out", "x"]) == 130
    assert capsys.readouterr().err == "\npyro-vae: interrupted\n"


def test_the_command_line_imports_nothing_heavy_before_main_handles_ctrl_c() -> None:
    """Everything ``pyro-vae`` (and ``python -m pyro_vae``) imports before ``main`` runs is light, so an
    interrupt while torch loads lands inside ``main``'s handler."""
    code = (
        "import sys, pyro_vae, pyro_vae.cli; print(sorted(m for m in ('torch', 'pyro', 'numpy') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --------------------------------------------------------------------------- --set order


ORDERS = {
    "name-first": ["model.prior=mixture", "model.prior.components=3"],
    "option-first": ["model.prior.components=3", "model.prior=mixture"],
}


@pytest.mark.parametrize("order", list(ORDERS))
def test_the_order_of_set_flags_does_not_matter(order: str) -> None:
    assert resolve_config(None, ORDERS[order]).model.prior == {"name": "mixture", "components": 3}


@pytest.mark.parametrize("order", list(ORDERS))
def test_a_misspelt_option_is_refused_in_every_order(order: str) -> None:
    overrides = [text.replace("components", "componets") for text in ORDERS[order]]
    with pytest.raises(ConfigError, match=re.escape("prior 'mixture' has no option 'componets' (did you mean")):
        resolve_config(None, overrides)


def test_dotted_keywords_do_not_depend_on_their_order_either() -> None:
    config = resolve_config(None, **{"model.prior.components": 3, "prior": "mixture"})
    assert config.model.prior == {"name": "mixture", "components": 3}


def test_naming_the_same_component_again_keeps_its_options() -> None:
    config = resolve_config({"model": {"prior": {"name": "mixture", "components": 4}}}, ["model.prior=mixture"])
    assert config.model.prior == {"name": "mixture", "components": 4}
    assert resolve_config(config, ["model.prior=normal"]).model.prior == "normal"  # another component: replaced
    assert resolve_config(config, model={"prior": "mixture"}).model.prior == {"name": "mixture", "components": 4}
    assert resolve_config(config, model={"prior": "normal"}).model.prior == "normal"


def test_resume_applies_an_option_before_its_component_name_too(tmp_path: Path) -> None:
    out = tmp_path / "run"
    pyro_vae.fit(overrides=TINY, out=out, pictures=False)
    pyro_vae.resume(out, overrides=["train.scheduler.min_lr=0.0001", "train.scheduler=cosine", "train.epochs=2"])
    saved = (out / "config.toml").read_text()
    assert re.search(r'scheduler = \{ ?name = "cosine", min_lr = 0\.0001 ?\}', saved), saved


# --------------------------------------------------------------------------- CSV header


def _csv(tmp_path: Path, text: str) -> str:
    path = tmp_path / "t.csv"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("text", "header", "rows", "notice"),
    [
        ("0,1,2\n5,6,7\n8,9,10\n", "auto", [[5, 6, 7], [8, 9, 10]], True),
        ("0,1,2\n5,6,7\n8,9,10\n", False, [[0, 1, 2], [5, 6, 7], [8, 9, 10]], False),
        ("0,1,2\n5,6,7\n8,9,10\n", True, [[5, 6, 7], [8, 9, 10]], False),
        ("a,b,c\n5,6,7\n", "auto", [[5, 6, 7]], False),
        ("3,4,5\n5,6,7\n", "auto", [[3, 4, 5], [5, 6, 7]], False),
        ("0.0,1.0,2.0\n5,6,7\n", "auto", [[0, 1, 2], [5, 6, 7]], False),
        ("0\n1\n2\n", "auto", [[0], [1], [2]], False),
        ("1,0\n5,6\n", "auto", [[1, 0], [5, 6]], False),
    ],
    ids=[
        "pandas-header-auto",
        "pandas-header-false",
        "pandas-header-true",
        "names-auto",
        "numbers-auto",
        "float-numbers-auto",
        "one-column-auto",
        "reversed-numbers-auto",
    ],
)
def test_csv_header_is_decided_and_a_numeric_one_said_out_loud(
    tmp_path: Path, text: str, header: bool | str, rows: list, notice: bool
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw = csv_file(_csv(tmp_path, text), header=header)
    assert raw.x.tolist() == rows
    notices = [w for w in caught if issubclass(w.category, InputNotice)]
    assert len(notices) == int(notice)
    if notice:
        assert "t.csv: the first row (0,1,2) is read as a header of column numbers" in str(notices[0].message)


def test_a_csv_header_of_numbers_from_pandas_round_trips(tmp_path: Path) -> None:
    pandas = pytest.importorskip("pandas")
    x = np.random.default_rng(1).random((7, 4))
    path = tmp_path / "p.csv"
    pandas.DataFrame(x).to_csv(path, index=False)
    with pytest.warns(InputNotice, match="read as a header of column numbers"):
        raw = csv_file(str(path))
    assert raw.x.shape == (7, 4)
    torch.testing.assert_close(raw.x, torch.tensor(x, dtype=torch.float32))


def test_a_bad_header_value_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=re.escape('data.header must be true, false or "auto"')):
        csv_file(_csv(tmp_path, "1,2\n"), header="maybe")


def test_the_cli_prints_the_header_decision_as_one_note_line(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(0)
    table = "\n".join(",".join(f"{v:.3f}" for v in row) for row in rng.random((40, 3)))
    data = tmp_path / "d.csv"
    data.write_text("0,1,2\n" + table + "\n")
    argv = ["fit", "--data", str(data), "--set", "model.likelihood=normal", "--out", str(tmp_path / "r"), *CLI_TINY]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "pyro-vae fit: note: d.csv: the first row (0,1,2) is read as a header of column numbers" in err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["n_train"] + summary["n_val"] + summary["n_test"] == 40


# --------------------------------------------------------------------------- grey images


def _folder(root: Path, grey_rgb: bool, mode: str = "RGB") -> Path:
    rng = np.random.default_rng(0)
    for i in range(6):
        (root / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        v = rng.integers(0, 255, (5, 4), dtype=np.uint8)
        pixels = np.stack([v, v, v] if grey_rgb else [v, v // 2, 255 - v], -1)
        Image.fromarray(pixels if mode == "RGB" else v).convert(mode).save(root / f"c{i % 2}" / f"{i}.png")
    return root


@pytest.mark.parametrize(
    ("grey", "mode", "grayscale", "channels", "notice"),
    [
        (True, "RGB", False, 3, "is grey, but is loaded as three equal RGB channels"),
        (True, "RGB", "auto", 1, "is grey: loaded with one channel"),
        (True, "L", "auto", 1, "is grey: loaded with one channel"),
        (True, "RGB", True, 1, None),
        (False, "RGB", "auto", 3, None),
        (False, "RGB", False, 3, None),
    ],
    ids=["grey-rgb-default", "grey-rgb-auto", "grey-L-auto", "grey-true", "colour-auto", "colour-default"],
)
def test_an_all_grey_image_folder_is_said_and_auto_loads_one_channel(
    tmp_path: Path, grey: bool, mode: str, grayscale: bool | str, channels: int, notice: str | None
) -> None:
    root = _folder(tmp_path / "imgs", grey, mode)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw = image_folder(str(root), grayscale=grayscale)
    assert raw.x.shape == (6, channels, 5, 4)
    messages = [str(w.message) for w in caught if issubclass(w.category, InputNotice)]
    assert len(messages) == (notice is not None)
    if notice is not None:
        assert messages[0].startswith(f"every image in imgs {notice}")


def test_a_bad_grayscale_value_is_a_data_error(tmp_path: Path) -> None:
    root = _folder(tmp_path / "imgs", True)
    with pytest.raises(PyroVAEError, match=re.escape('data.grayscale must be true, false or "auto"')):
        image_folder(str(root), grayscale="sometimes")


def test_channels_last_images_are_reordered_with_a_note():
    import warnings

    from pyro_vae.data import as_examples
    from pyro_vae.errors import InputNotice

    x = torch.arange(2 * 8 * 6 * 3, dtype=torch.float32).reshape(2, 8, 6, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = as_examples(x.numpy())
    assert out.shape == (2, 3, 8, 6)
    assert torch.equal(out[1, 2], x[1, :, :, 2])
    assert any(isinstance(w.message, InputNotice) and "channels-last" in str(w.message) for w in caught)
    # (N, C, H, W) with a small last axis that is a width, not channels: left alone
    assert as_examples(torch.zeros(2, 3, 8, 4).numpy()).shape == (2, 3, 8, 4)


def test_channels_last_memory_mapped_images_are_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 8, 8, 3), dtype=np.uint8))
    with pytest.raises(DataError, match=r"looks like channels-last images .* set data\.mmap = false"):
        pyro_vae.fit(data=str(tmp_path / "x.npy"), **{"data.mmap": True, "train.epochs": 1}, progress=False)
