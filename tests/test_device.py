"""One device (issue 15): train.device, data on the device, losses read in windows, precision, compile.

The tests taking the ``device`` fixture (``PYRO_VAE_TEST_DEVICE``, default cpu) are device-agnostic:
``PYRO_VAE_TEST_DEVICE=cuda pytest tests/test_device.py`` runs them on a GPU (``benchmarks/gpu_check.sh``).
The others pin what needs no accelerator: names, errors, the CPU path of the windowed loss reads, the
compile fallback.

=====================================  ================================================================
kind                                   members (cases)
=====================================  ================================================================
a device name that is not one          gpu, CUDA, cuda:, cuda:x, a number: one-line ConfigError from the
                                       config, the CLI (exit 2), evaluate/sample's ``device=``
a device this machine lacks            cuda, cuda:1, mps without them: one line naming what is available,
                                       refused before the run directory exists (fit) or changes (resume)
auto                                   CUDA when available (simulated), else the CPU
everything on the device               parameters, prior buffers, data splits, batches, evaluation,
                                       samples; a run fitted there evaluates, samples and resumes on CPU
losses read in windows                 a window of 8 steps gives the history and parameters of 1; a
                                       divergence inside a window names its own step
precision                              bf16 and 16 fit with float32 parameters and finite losses; the
                                       bf16 ELBO within 1% of float32's; 16 checkpoints its scaler; 64
                                       refused; jit_ estimators refuse autocast and compile
compile                                a backend that fails falls back to eager with one warning per
                                       network and the same numbers; a real compile (slow)
=====================================  ================================================================
"""

from __future__ import annotations

import math
import re
import warnings

import pytest
import torch

import pyro_vae
from pyro_vae._device import available_devices, resolve_device
from pyro_vae.assemble import initial_vae, prepare_data
from pyro_vae.cli import main
from pyro_vae.config import resolve_config
from pyro_vae.data import Split, batch_at
from pyro_vae.data.loader import bernoulli_draw, draw_rows
from pyro_vae.errors import ConfigError, TrainingError
from pyro_vae.training import Trainer, load_checkpoint
from pyro_vae.training.device import StepLosses, epoch_generator
from pyro_vae.training.divergence import DivergedError, DivergenceCheck
from pyro_vae.training.precision import Precision, network_modules

SMALL = ["data.limit=200", "model.network.hidden=[16]", "eval.samples=4", "train.batch_size=32", "train.epochs=2"]


def _on(tensor: torch.Tensor, device: str) -> bool:
    return tensor.device == resolve_device(device)


# -- names and availability ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, start",
    [
        ("gpu", "train.device must be one of auto, cpu, cuda, cuda:N, mps (N a CUDA device number), got 'gpu'"),
        ("CUDA", "train.device must be one of auto, cpu, cuda, cuda:N, mps"),
        ("cuda:", "train.device must be one of auto, cpu, cuda, cuda:N, mps"),
        ("cuda:x", "train.device must be one of auto, cpu, cuda, cuda:N, mps"),
        (3, "train.device must be a string, got 3"),
    ],
    ids=["gpu", "upper", "colon", "letter", "int"],
)
def test_a_device_name_that_is_not_one_is_refused_in_one_line(name, start):
    with pytest.raises(ConfigError) as error:
        resolve_config(None, [], device=name)
    assert str(error.value).startswith(start)
    assert "\n" not in str(error.value)


def test_evaluate_and_sample_refuse_a_bad_device_before_opening_the_run(tmp_path):
    for call in (lambda: pyro_vae.evaluate(tmp_path, device="gpu"), lambda: pyro_vae.sample(tmp_path, 2, device="gpu")):
        with pytest.raises(ConfigError, match=r"^device must be one of auto, cpu"):
            call()


def test_the_cli_refuses_a_bad_device_with_exit_2(tmp_path, capsys):
    assert main(["fit", "--device", "gpu", "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pyro-vae fit: error: train.device must be one of") and "\n" not in err
    assert not (tmp_path / "r").exists()


@pytest.fixture
def no_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.mark.parametrize("name", ["cuda", "cuda:1", "mps"])
def test_a_missing_device_names_the_available_ones(no_accelerator, name):
    with pytest.raises(ConfigError) as error:
        resolve_device(name)
    assert str(error.value) == (
        f"train.device = {name!r} is not available on this machine (available: cpu): "
        'set train.device to "auto" or one of those (--device on the command line)'
    )


def test_auto_takes_cuda_when_there_is_one_else_the_cpu(monkeypatch, no_accelerator):
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    assert available_devices() == ["cpu", "cuda:0", "cuda:1"]
    assert resolve_device("auto") == torch.device("cuda", 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(ConfigError, match=r"'cuda:2' is not available .*\(available: cpu, cuda:0, cuda:1\)"):
        resolve_device("cuda:2")


def test_fit_refuses_a_missing_device_before_the_run_directory_exists(no_accelerator, tmp_path):
    with pytest.raises(ConfigError, match="'cuda' is not available"):
        pyro_vae.fit(out=tmp_path / "r", overrides=SMALL, device="cuda")
    assert not (tmp_path / "r").exists()


# -- everything on the device ---------------------------------------------------------------


@pytest.fixture
def device_run(tmp_path, device):
    out = tmp_path / "run"
    result = pyro_vae.fit(out=out, overrides=[*SMALL, "model.prior=mixture"], device=device, pictures=True)
    return out, result


def test_the_model_the_data_and_the_figures_live_on_the_device(device_run, device):
    out, result = device_run
    assert all(_on(t, device) for t in (*result.vae.parameters(), *result.vae.buffers()))
    for split in (result.data.train, result.data.val, result.data.test):
        assert _on(split.x, device) and _on(split.labels, device)
        assert _on(batch_at(split, 0, 8)[0], device)
    assert math.isfinite(result.summary["test_elbo"]) and math.isfinite(result.summary["test_log_likelihood"])
    assert _on(result.vae.sample(3), device) and _on(result.vae.encode(result.data.test.x[:3])[0], device)
    assert (out / "samples.png").stat().st_size > 500 and (out / "latent.png").stat().st_size > 500


def test_checkpoints_load_on_the_cpu_and_the_run_evaluates_samples_and_resumes_there(device_run):
    out, result = device_run
    state = load_checkpoint(out / "checkpoint.pt")  # torch.load(..., map_location="cpu", weights_only=True)
    assert all(t.device.type == "cpu" for t in state["model"].values())
    vae, _ = pyro_vae.load_run(out, device="cpu")
    assert all(p.device.type == "cpu" for p in vae.parameters())
    expected = {k: v.cpu() for k, v in result.vae.state_dict().items()}
    assert all(torch.equal(vae.state_dict()[k], v) for k, v in expected.items())
    summary = pyro_vae.evaluate(out, device="cpu")
    assert math.isfinite(summary["test_log_likelihood"])
    assert pyro_vae.sample(out, 4, device="cpu").device.type == "cpu"
    resumed = pyro_vae.resume(out, overrides=["train.epochs=3"], device="cpu", pictures=False)
    assert len(resumed.history) == 3 and next(resumed.vae.parameters()).device.type == "cpu"


def test_a_run_saved_for_a_device_this_machine_lacks_evaluates_and_diagnoses_here(device_run, no_accelerator):
    # the run's config.toml names its training device; evaluating elsewhere reads only its ddp_timeout from it
    out, _ = device_run
    config = out / "config.toml"
    config.write_text(re.sub(r'device = "[^"]*"', 'device = "cuda:7"', config.read_text()))
    assert 'device = "cuda:7"' in config.read_text()
    assert math.isfinite(pyro_vae.evaluate(out, device="cpu")["test_elbo"])
    assert math.isfinite(pyro_vae.diagnose(out, samples=30, points=2, draws=5, device="cpu")["psis_khat_mean"])


def test_resume_on_a_missing_device_changes_nothing(device_run, no_accelerator):
    out, _ = device_run
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(ConfigError, match=r"train.device = 'cuda:7' is not available"):
        pyro_vae.resume(out, overrides=["train.epochs=3"], device="cuda:7")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_split_that_does_not_fit_stays_on_the_host_and_its_batches_go_to_the_device(monkeypatch, device):
    from pyro_vae.data import prepare as prepare_module

    monkeypatch.setattr(prepare_module, "fits_on", lambda _device, _nbytes: False)
    data = prepare_data(resolve_config(None, SMALL)).to(resolve_device(device))
    assert data.train.x.device.type == "cpu" and data.train.device == resolve_device(device)
    x, labels = batch_at(data.train, 0, 5)
    assert _on(x, device) and _on(labels, device) and x.shape[0] == 5


def test_batches_are_drawn_binarized_and_shifted_on_the_device(device):
    target = resolve_device(device)
    x = torch.zeros(64, 1, 9, 9)
    x[:, :, 4, 4] = 1.0  # one white pixel in the middle
    split = Split(x, torch.arange(64)).to(target)
    generator = epoch_generator(torch.Generator().manual_seed(0), target)
    drawn = draw_rows(split, torch.randperm(64, device=target), generator, binarize=True, shift=2)
    assert drawn.device == target and drawn.shape == x.shape
    assert torch.equal(drawn.sum((1, 2, 3)), torch.ones(64, device=target))  # a shift moves the pixel, keeps it
    rows, cols = drawn[:, 0].nonzero()[:, 1:].T
    assert ((rows - 4).abs() <= 2).all() and ((cols - 4).abs() <= 2).all()
    assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) > 10  # 25 offsets, 64 draws
    p = torch.full((100_000,), 0.25, device=target)
    share = float(bernoulli_draw(p, generator).mean())
    assert abs(share - 0.25) < 4 * math.sqrt(0.25 * 0.75 / 100_000)


def test_the_cpu_draws_batches_with_the_checkpointed_generator_itself():
    data_rng = torch.Generator().manual_seed(0)
    assert epoch_generator(data_rng, torch.device("cpu")) is data_rng


# -- losses read in windows -----------------------------------------------------------------


def _trainer(overrides, device="cpu", every=1) -> Trainer:
    config = resolve_config(None, [*SMALL, *overrides], device=device)
    data = prepare_data(config)
    trainer = Trainer(initial_vae(config, data), config, data)
    trainer.sync_every = every
    return trainer


def test_reading_the_losses_every_8_steps_changes_nothing(device):
    history = {}
    params = {}
    for every in (1, 8):
        trainer = _trainer(["data.binarize=dynamic"], device, every)
        history[every] = trainer.fit()
        params[every] = [p.detach().cpu() for p in trainer.vae.parameters()]
    assert [r["train_elbo"] for r in history[1]] == [r["train_elbo"] for r in history[8]]
    assert all(torch.equal(a, b) for a, b in zip(params[1], params[8], strict=True))


@pytest.mark.parametrize("every", [1, 8], ids=["every-step", "window-8"])
def test_a_divergence_inside_a_window_names_its_own_step(device, every):
    trainer = _trainer(["train.lr=1000"], device, every)
    with pytest.raises(TrainingError, match=r"^training diverged at epoch 1, step 2: the loss per example reached"):
        trainer.fit()


def test_step_losses_check_every_step_in_order_and_sum_the_rest():
    losses = StepLosses(every=3)
    assert not losses.add(1, torch.tensor(30.0), 10) and not losses.add(2, torch.tensor(20.0), 10)
    assert losses.add(3, torch.tensor(float("nan")), 10)
    check = DivergenceCheck(100.0)
    with pytest.raises(Exception, match="the loss became nan") as error:
        losses.read(check)
    assert error.value.step == 3 and check.reference == 3.0
    assert (losses.total, losses.seen) == (50.0, 20)


def test_step_losses_add_up_the_window_over_the_processes_once_per_read():
    calls = []

    def reduce(values: torch.Tensor) -> torch.Tensor:  # two processes, the other one's losses twice this one's
        calls.append(values.clone())
        return 3 * values

    losses = StepLosses(every=2, reduce=reduce)
    assert not losses.add(1, torch.tensor(4.0), 8) and losses.add(2, torch.tensor(6.0), 8)
    assert losses.read(DivergenceCheck(0.0)) == 2
    assert len(calls) == 1 and calls[0].tolist() == [4.0, 6.0]
    assert (losses.total, losses.seen) == (30.0, 16)
    losses.add(3, torch.tensor(float("inf")), 8)  # a process's divergence reaches every process's check
    with pytest.raises(DivergedError) as error:
        losses.read(DivergenceCheck(0.0))
    assert error.value.step == 3 and len(calls) == 2


# -- precision -------------------------------------------------------------------------------


@pytest.mark.parametrize("precision", ["bf16", "16"])
def test_mixed_precision_fits_with_float32_parameters_and_a_close_elbo(tmp_path, device, precision):
    plain = pyro_vae.fit(overrides=SMALL, device=device, pictures=False)
    mixed = pyro_vae.fit(out=tmp_path / "r", overrides=SMALL, device=device, precision=precision, pictures=False)
    assert {p.dtype for p in mixed.vae.parameters()} == {torch.float32}
    for row, ref in zip(mixed.history, plain.history, strict=True):
        assert math.isfinite(row["train_elbo"])
        # within 1% of float32's bound per example (nats)
        assert row["train_elbo"] == pytest.approx(ref["train_elbo"], rel=0.01)
    state = load_checkpoint(tmp_path / "r" / "checkpoint.pt")
    assert ("scale" in state["grad_scaler"]) == (precision == "16")


def test_the_gradient_scaler_of_16_resumes_with_its_scale(device):
    trained = _trainer(["train.precision=16"], device)
    trained.fit()
    state = trained.state_dict()
    assert state["grad_scaler"]["_growth_tracker"] == trained.step  # no overflow: every step counted
    fresh = _trainer(["train.precision=16"], device)
    assert fresh.precision.state_dict()["scale"] == 65536.0  # torch's initial scale
    fresh.load_state_dict(state)
    assert fresh.precision.state_dict() == trained.precision.state_dict() == state["grad_scaler"]


def test_the_bf16_elbo_of_the_same_parameters_is_within_half_a_percent_of_float32(device):
    trainer = _trainer([], device)
    x = trainer.data.test.x[:64]
    vae = trainer.vae

    def elbo() -> float:
        return pyro_vae.evaluation.evaluate_split(vae, trainer.data.test, samples=8, seed=1).elbo

    reference = elbo()
    Precision("bf16", resolve_device(device)).apply(
        [net for program in (vae.model, vae.guide) for net in network_modules(program)]
    )
    assert vae.guide.encoder(x).dtype == torch.float32  # autocast inside, float32 out
    assert elbo() == pytest.approx(reference, rel=0.005)


@pytest.mark.parametrize("value, expected", [(32, "32"), ("bf16", "bf16"), (16, "16")], ids=["32", "bf16", "16"])
def test_precision_may_be_a_number_and_is_stored_as_text(value, expected):
    assert resolve_config(None, [], precision=value).train.precision == expected


def test_a_precision_that_is_not_one_is_refused():
    with pytest.raises(ConfigError, match=r"^train.precision must be one of 32, bf16, 16, got 64$"):
        resolve_config(None, [], precision=64)


@pytest.mark.parametrize("key", ["train.precision=bf16", "train.compile=true"], ids=["bf16", "compile"])
def test_jit_estimators_refuse_autocast_and_compile(key):
    with pytest.raises(ConfigError, match="'jit_trace' traces the loss once, in float32 with eager networks"):
        resolve_config(None, [key, 'train.estimator="jit_trace"'])


# -- compile ---------------------------------------------------------------------------------


def test_a_failing_compiler_falls_back_to_eager_with_one_warning_per_network(monkeypatch, device):
    def broken(fn):
        def call(*args, **kwargs):
            raise RuntimeError("no C++ compiler found\nmore detail")

        return call

    monkeypatch.setattr(torch, "compile", broken)
    eager = _trainer([], device).fit()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled = _trainer(["train.compile=true"], device).fit()
    messages = sorted(str(w.message) for w in caught if issubclass(w.category, RuntimeWarning))
    assert messages == [
        f"train.compile: torch.compile failed for the {name} (no C++ compiler found); it runs uncompiled"
        for name in ("MLPDecoder", "MLPEncoder")
    ]
    assert [r["train_elbo"] for r in compiled] == [r["train_elbo"] for r in eager]


@pytest.mark.slow
def test_a_real_compile_trains_to_the_eager_numbers(device):
    eager = _trainer([], device).fit()
    compiled = _trainer(["train.compile=true"], device).fit()
    for row, ref in zip(compiled, eager, strict=True):
        assert row["train_elbo"] == pytest.approx(ref["train_elbo"], rel=1e-3)
