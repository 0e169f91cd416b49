"""Per-step overhead of pyro-vae: a hand-written PyTorch VAE, the same VAE in idiomatic Pyro, and pyro-vae's trainer.

Three implementations of one training step of the same model are timed in one
process, alternating, on the same batches:

(a) ``torch``: hand-written PyTorch modules, manual reparameterisation and the
    single-sample ELBO written out with the same arithmetic as Pyro's
    ``Trace_ELBO`` (``log p(x|z) + log N(z; 0, I) - log q(z|x)``, summed over the
    batch), ``(loss / batch size).backward()`` and ``torch.optim.Adam`` (the
    per-tensor loop);
(a') ``torch-fused``: the same with ``torch.optim.Adam(..., fused=True)``, the
    optimizer (c) uses: the like-for-like baseline of (c);
(b) ``pyro``: the same modules as a Pyro model and guide written the idiomatic
    way (``pyro.module``, ``pyro.plate``, ``pyro.sample``), stepped with
    ``SVI(model, guide, pyro.optim.Adam, Trace_ELBO()).step``; both programs run
    under ``poutine.scale(1 / batch size)`` so the gradient is that of the
    per-example mean, as in (a) and (c);
(c) ``pyro-vae``: ``Trainer.train_step`` of a VAE built by pyro-vae from its
    config (estimator ``trace``, optimizer ``adam``: torch's fused Adam kernel,
    pyro-vae's default where torch has one);
(c') ``pyro-vae-loop``: the same with ``optimizer = {name = "adam", fused =
    false}``, the per-tensor Adam loop that (a) and (b) use, which separates
    pyro-vae's own overhead from the optimizer's.

Each ratio compares like with like, the same optimizer on both sides: the headline
(c)/(a'), then (c')/(a) and (b)/(a). No variant waits for the device inside a step:
(a) and (a') return the loss as a tensor, and (c) and (c') keep it on the device as
the trainer's epoch loop does (:class:`pyro_vae.training.device.StepLosses`, read
every ``sync_every`` steps: every step on the CPU); each timed block ends with a
device synchronisation. ``--device cuda`` runs everything on a GPU.

The model: MLP 784-400-100 encoder (ReLU, pyro-vae's default activation), a
diagonal Gaussian ``q(z|x)`` with scale ``softplus(raw) + 1e-6``, ``z`` of 50
dimensions with a standard normal prior, MLP 50-400-784 decoder giving Bernoulli
logits; float32, on ``--device`` (default CPU), Adam with learning rate 1e-3. (a), (a')
and (b) start from a copy of the parameters pyro-vae initialised for (c) and (c'), so all start identical;
the losses of the first and last warm-up steps (same random numbers for every
variant) are printed as a check that they compute the same thing.

For each batch size, after ``--warmup`` steps of each variant, ``--repeats``
blocks of ``--steps`` steps run in the order a, a', b, c, c', a, ...; each block is
timed with ``time.perf_counter`` and gives one per-step time. The ratios are taken
block by block (block ``i`` of c over block ``i`` of a'), so a machine that is
slower for a while slows both sides of a ratio. The data are synthetic binary
images (``Bernoulli(0.5)``, seeded), so no dataset is needed.

Memory is measured after timing (on the CPU only; ``--no-memory`` skips it), on a
few extra steps per variant, in two ways:

- ``torch working memory``: the most bytes held by torch's CPU allocator during
  one step beyond the parameters and the Adam state, that is gradients,
  activations and temporaries. Every allocation and free is recorded by
  ``torch.profiler`` (``profile_memory=True``) and summed in time order; the
  peak of that sum within a step, above its level at the step's start, is added
  to the bytes of gradients already held at the start (Pyro's SVI keeps zeroed
  gradients between steps, ``zero_grad(set_to_none=True)`` frees them).
- ``Python peak``: the most bytes of Python objects (Pyro's traces and messages,
  for instance) live during one step above the level at its start
  (``tracemalloc``; tensor storage is not counted there).

Run it on an otherwise idle machine and paste the output into ``benchmarks/RESULTS.md``:

    python benchmarks/step_overhead.py
    python benchmarks/step_overhead.py --batch-sizes 128 --steps 20 --repeats 5 --threads 1
    python benchmarks/step_overhead.py --device cuda --batch-sizes 128,1024
"""

from __future__ import annotations

import argparse
import datetime
import gc
import math
import platform
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyro
import pyro.distributions as dist
import torch
from _memory import python_peak_bytes, torch_working_bytes  # benchmarks/_memory.py
from pyro import poutine
from pyro.infer import SVI, Trace_ELBO
from pyro_vae.guides.posteriors import MIN_SCALE
from torch import Tensor, nn
from torch.nn.functional import binary_cross_entropy_with_logits, softplus

from pyro_vae._device import resolve_device
from pyro_vae.assemble import initial_vae, prepare_data
from pyro_vae.config import resolve_config
from pyro_vae.training import Trainer
from pyro_vae.training.device import StepLosses
from pyro_vae.training.divergence import DivergenceCheck

EVENT_SHAPE = (1, 28, 28)
PIXELS = math.prod(EVENT_SHAPE)
HIDDEN = 400
Z_DIM = 50
LR = 1e-3
SEED = 0
#: batches of synthetic data per batch size; steps cycle through them
BATCHES = 4
#: extra steps per variant on which memory is measured (the largest is reported)
MEMORY_STEPS = 3
LOG_SQRT_2PI = math.log(math.sqrt(2 * math.pi))
MB = 2.0**20

#: a training step: one batch in, the summed negative ELBO (before the update) out, as a 0-d tensor or a float
Step = Callable[[Tensor], Tensor | float]


@dataclass
class Variant:
    """One implementation of the training step and the parameters it trains."""

    step: Step
    params: list[Tensor]

    def grad_bytes(self) -> int:
        """Bytes of the gradients currently held by the parameters."""
        return sum(p.grad.nbytes for p in self.params if p.grad is not None)


# -- (a) and (b): the networks, written by hand ----------------------------------------------


class Encoder(nn.Module):
    """``x -> flatten -> Linear(784, 400) -> ReLU -> Linear(400, 100) -> (loc, softplus(raw) + 1e-6)``.

    The layer layout (``net.0``, ``net.2``) matches pyro-vae's ``MLPEncoder`` so
    its ``state_dict`` loads here unchanged.
    """

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(PIXELS, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 2 * Z_DIM))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        loc, raw = self.net(x.flatten(1)).split(Z_DIM, dim=-1)
        return loc, softplus(raw) + MIN_SCALE


class Decoder(nn.Module):
    """``z -> Linear(50, 400) -> ReLU -> Linear(400, 784) -> logits of shape (B, 1, 28, 28)``.

    The layer layout matches pyro-vae's ``MLPDecoder``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(Z_DIM, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, PIXELS))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *EVENT_SHAPE)


def normal_log_prob(value: Tensor, loc: Tensor | float, scale: Tensor | float) -> Tensor:
    """``log N(value; loc, scale^2)`` per element, written as ``torch.distributions.Normal.log_prob`` does.

    Parameters
    ----------
    value, loc, scale
        Broadcastable tensors (or numbers for a standard normal).

    Returns
    -------
    Tensor
        The elementwise log-density.
    """
    log_scale = torch.log(scale) if isinstance(scale, Tensor) else math.log(scale)
    return -((value - loc) ** 2) / (2 * scale**2) - log_scale - LOG_SQRT_2PI


@dataclass
class HandWritten:
    """Variant (a): the VAE in plain PyTorch, stepped with ``torch.optim.Adam``."""

    encoder: Encoder
    decoder: Decoder
    optimizer: torch.optim.Optimizer

    def loss(self, x: Tensor) -> Tensor:
        """Single-sample negative ELBO summed over the batch, term by term as ``Trace_ELBO`` computes it.

        Parameters
        ----------
        x
            Binary images of shape ``(B, 1, 28, 28)``.

        Returns
        -------
        Tensor
            ``-(log p(x|z) + log p(z) - log q(z|x))`` summed over the batch, ``z ~ q(z|x)`` reparameterised.
        """
        loc, scale = self.encoder(x)
        z = loc + torch.randn_like(loc) * scale
        log_px = -binary_cross_entropy_with_logits(self.decoder(z), x, reduction="none").sum()
        log_pz = normal_log_prob(z, 0.0, 1.0).sum()
        log_qz = normal_log_prob(z, loc, scale).sum()
        return -(log_px + log_pz - log_qz)

    def step(self, x: Tensor) -> Tensor:
        """One Adam step on the gradient of the per-example mean; returns the summed loss (not waited for)."""
        loss = self.loss(x)
        (loss / x.shape[0]).backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.detach()


def hand_written(encoder: Encoder, decoder: Decoder, fused: bool = False) -> Variant:
    """Variant (a) on ``encoder`` and ``decoder``, or (a') with ``fused``: torch's fused Adam kernel.

    Returns
    -------
    Variant
        Its step does one training step on a batch.
    """
    params = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(params, lr=LR, fused=fused)
    return Variant(HandWritten(encoder, decoder, optimizer).step, params)


def idiomatic_pyro(encoder: Encoder, decoder: Decoder) -> Variant:
    """Variant (b): the same VAE as a Pyro model and guide, stepped by ``SVI`` with ``pyro.optim.Adam``.

    The global parameter store is cleared first; ``pyro.module`` registers both
    networks in it on the first step.

    Returns
    -------
    Variant
        Its step does one ``svi.step`` on a batch and returns the summed loss.
    """
    pyro.clear_param_store()

    def model(x: Tensor) -> None:
        pyro.module("decoder", decoder)
        batch = x.shape[0]
        with pyro.plate("data", batch), poutine.scale(scale=1.0 / batch):
            z_loc = x.new_zeros((batch, Z_DIM))
            z_scale = x.new_ones((batch, Z_DIM))
            z = pyro.sample("z", dist.Normal(z_loc, z_scale).to_event(1))
            pyro.sample("x", dist.Bernoulli(logits=decoder(z)).to_event(3), obs=x)

    def guide(x: Tensor) -> None:
        pyro.module("encoder", encoder)
        batch = x.shape[0]
        with pyro.plate("data", batch), poutine.scale(scale=1.0 / batch):
            loc, scale = encoder(x)
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))

    svi = SVI(model, guide, pyro.optim.Adam({"lr": LR}), Trace_ELBO())

    def step(x: Tensor) -> float:
        return svi.step(x) * x.shape[0]

    # pyro.module stores these very tensors in the param store, so their .grad is what SVI fills
    return Variant(step, [*encoder.parameters(), *decoder.parameters()])


# -- (c): pyro-vae ------------------------------------------------------------------------------


def pyro_vae_trainer(data: Tensor, batch_size: int, device: str, fused: bool | None = None) -> Trainer:
    """Variant (c): pyro-vae's trainer for the same VAE, built as ``pyro_vae.fit`` builds it.

    Parameters
    ----------
    data
        The in-memory examples (the ``array`` data source); ``train_step`` is
        then fed batches directly, so the split only satisfies the constructor.
    batch_size
        Recorded in the config (``train_step`` takes whatever batch it is given).
    device
        ``train.device``.
    fused
        The ``adam`` optimizer's ``fused`` option (``None``: pyro-vae's default).

    Returns
    -------
    Trainer
        With the VAE initialised from ``SEED`` and in training mode.
    """
    config = resolve_config(
        seed=SEED,
        data={"name": "array", "binarize": "none", "scale": 1.0},
        model={
            "z_dim": Z_DIM,
            "prior": "normal",
            "likelihood": "bernoulli",
            "network": {"name": "mlp", "hidden": [HIDDEN]},
        },
        train={
            "estimator": "trace",
            "optimizer": {"name": "adam"} if fused is None else {"name": "adam", "fused": fused},
            "lr": LR,
            "batch_size": batch_size,
            "grad_clip": 0.0,
            "device": device,
        },
    )
    prepared = prepare_data(config, data.cpu())
    vae = initial_vae(config, prepared)
    vae.train()
    return Trainer(vae, config, prepared, run_dir=None, log=None, progress=False)


def trainer_step(trainer: Trainer) -> Variant:
    """``trainer.train_step(x, None, 1.0)`` and the loss bookkeeping of the trainer's epoch loop, as a variant.

    The loss stays on the device and is read (and checked for divergence) every
    ``trainer.sync_every`` steps, as :meth:`Trainer.train_epoch` does.
    """
    losses = StepLosses(trainer.sync_every)
    check = DivergenceCheck(0.0)  # the NaN/inf check only: synthetic data, no reference to hold to

    def step(x: Tensor) -> Tensor:
        loss = trainer.train_step(x, None, 1.0)
        if losses.add(0, loss, x.shape[0]):
            losses.read(check)
        return loss

    return Variant(step, list(trainer.loss.parameters()))


def build_variants(data: Tensor, batch_size: int, device: str) -> dict[str, Variant]:
    """The five variants, (a), (a') and (b) starting from copies of the parameters pyro-vae initialised for (c).

    Returns
    -------
    dict[str, Variant]
        ``torch`` (a), ``torch-fused`` (a'), ``pyro`` (b), ``pyro-vae`` (c) and ``pyro-vae-loop`` (c'), in that order.
    """
    trainer = pyro_vae_trainer(data, batch_size, device)
    encoder_state = trainer.vae.guide.encoder.state_dict()
    decoder_state = trainer.vae.model.decoder.state_dict()
    nets = []
    for _ in range(3):
        encoder, decoder = Encoder(), Decoder()
        encoder.load_state_dict(encoder_state)  # strict: fails unless the layouts are identical
        decoder.load_state_dict(decoder_state)
        nets.append((encoder.to(trainer.device), decoder.to(trainer.device)))
    return {
        "torch": hand_written(*nets[0]),
        "torch-fused": hand_written(*nets[1], fused=True),
        "pyro": idiomatic_pyro(*nets[2]),
        "pyro-vae": trainer_step(trainer),
        "pyro-vae-loop": trainer_step(pyro_vae_trainer(data, batch_size, device, fused=False)),
    }


# -- measuring ----------------------------------------------------------------------------------


def synthetic_batches(batch_size: int, device: torch.device) -> tuple[Tensor, list[Tensor]]:
    """Seeded ``Bernoulli(0.5)`` images, all of them and cut into batches on ``device``.

    Returns
    -------
    tuple[Tensor, list[Tensor]]
        The ``(BATCHES * batch_size, 1, 28, 28)`` float32 data and its contiguous batches.
    """
    gen = torch.Generator().manual_seed(SEED)
    data = torch.bernoulli(torch.full((BATCHES * batch_size, *EVENT_SHAPE), 0.5), generator=gen)
    return data, [b.contiguous().to(device) for b in data.split(batch_size)]


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (nothing to wait for on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def warm_up(step: Step, batches: list[Tensor], steps: int) -> list[float]:
    """``steps`` untimed steps, each after ``torch.manual_seed(SEED + i)``, so every variant draws the same noise.

    Returns
    -------
    list[float]
        The summed loss of each step.
    """
    losses = []
    for i in range(steps):
        torch.manual_seed(SEED + i)
        losses.append(float(step(batches[i % len(batches)])))
    return losses


def time_block(step: Step, batches: list[Tensor], steps: int, device: torch.device) -> float:
    """Seconds per step over ``steps`` consecutive steps (one ``perf_counter`` interval, ``device`` synchronised)."""
    gc.collect()
    synchronize(device)
    start = time.perf_counter()
    for i in range(steps):
        step(batches[i % len(batches)])
    synchronize(device)
    return (time.perf_counter() - start) / steps


@dataclass
class Measurement:
    """What one variant gave at one batch size."""

    seconds: list[float]  # per step, one entry per block
    torch_working: int | None  # None: not measured
    python_peak: int | None
    first_loss: float
    last_loss: float
    parameters: int


def measure(args: argparse.Namespace, batch_size: int) -> dict[str, Measurement]:
    """Warm up, time alternating blocks, then measure memory, for every variant at ``batch_size``.

    Returns
    -------
    dict[str, Measurement]
        Per variant name, in the order (a), (a'), (b), (c), (c').
    """
    device = resolve_device(args.device, "--device")
    data, batches = synthetic_batches(batch_size, device)
    variants = {k: v for k, v in build_variants(data, batch_size, args.device).items() if k in args.variants}
    losses = {name: warm_up(v.step, batches, args.warmup) for name, v in variants.items()}
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, v in variants.items():
            seconds[name].append(time_block(v.step, batches, args.steps, device))
    out = {}
    for name, v in variants.items():
        memory = args.memory and device.type == "cpu"
        working = torch_working_bytes(lambda v=v: v.step(batches[0]), v.grad_bytes(), MEMORY_STEPS) if memory else None
        python_peak = python_peak_bytes(lambda v=v: v.step(batches[0])) if memory else None
        size = sum(p.numel() for p in v.params)
        out[name] = Measurement(seconds[name], working, python_peak, losses[name][0], losses[name][-1], size)
    return out


# -- reporting ----------------------------------------------------------------------------------


def summary(values: list[float]) -> tuple[float, float, float, float, float]:
    """Median, 25th and 75th percentiles, minimum and maximum of ``values``."""
    a = np.asarray(values, dtype=float)
    return (
        float(np.median(a)),
        float(np.percentile(a, 25)),
        float(np.percentile(a, 75)),
        float(a.min()),
        float(a.max()),
    )


def print_header(args: argparse.Namespace) -> None:
    """The command, date, machine and library versions, ready for ``RESULTS.md``."""
    print("## Per-step overhead: hand-written PyTorch (a, a'), idiomatic Pyro (b), pyro-vae (c, c')\n")
    print(f"- Command: `python {shlex.join(sys.argv)}`")
    print(
        f"- Date: {datetime.date.today().isoformat()}. Machine: {platform.machine()}, {platform.system()}, "
        f"Python {platform.python_version()}, torch {torch.__version__}, pyro-ppl {pyro.__version__}, "
        f"torch threads {torch.get_num_threads()} (interop {torch.get_num_interop_threads()})."
    )
    print(
        f"- MLP 784-{HIDDEN}-{2 * Z_DIM} / {Z_DIM}-{HIDDEN}-784, ReLU, Bernoulli likelihood, N(0, I) prior, float32, "
        f"device {args.device}, Adam lr {LR:g}; {args.warmup} warm-up steps, then {args.repeats} blocks of "
        f"{args.steps} steps per variant, alternating a, a', b, c, c'."
    )
    print(
        "- torch working MB: most MB held by torch's CPU allocator during one step beyond the parameters and "
        "Adam state (gradients, activations, temporaries; torch.profiler with profile_memory, largest of "
        f"{MEMORY_STEPS} steps). Python peak MB: most MB of Python objects live during one step (tracemalloc). "
        "Both measured after timing.\n"
    )


def print_loss_check(batch_size: int, results: dict[str, Measurement]) -> None:
    """Summed losses of the first and last warm-up step per variant (same seeds, same starting parameters)."""
    first = ", ".join(f"{name} {m.first_loss:.4f}" for name, m in results.items())
    last = ", ".join(f"{name} {m.last_loss:.4f}" for name, m in results.items())
    sizes = ", ".join(f"{name} {m.parameters}" for name, m in results.items())
    print(f"- batch {batch_size}: parameters: {sizes}")
    print(f"- batch {batch_size}: summed loss of warm-up step 1: {first}; of the last warm-up step: {last}")


#: each variant's label and the like-for-like baseline of its ratio (the same optimizer on both sides)
LABELS = {
    "torch": ("(a) torch, per-tensor Adam", None),
    "torch-fused": ("(a') torch, fused Adam", None),
    "pyro": ("(b) pyro, per-tensor Adam", "torch"),
    "pyro-vae": ("(c) pyro-vae, fused Adam", "torch-fused"),
    "pyro-vae-loop": ("(c') pyro-vae, per-tensor Adam", "torch"),
}


def _mb(nbytes: int | None, digits: int) -> str:
    return "-" if nbytes is None else f"{nbytes / MB:.{digits}f}"


def table_rows(batch_size: int, results: dict[str, Measurement]) -> list[str]:
    """Markdown rows for one batch size: time per step, memory and the block-paired ratio to the variant's baseline."""
    rows = []
    for name, m in results.items():
        label, baseline = LABELS[name]
        med, p25, p75, lo, hi = (1e3 * v for v in summary(m.seconds))
        if baseline is None or baseline not in results:
            ratio = " |  |  |"
        else:
            base = np.asarray(results[baseline].seconds)
            r_med, r25, r75, r_lo, r_hi = summary(list(np.asarray(m.seconds) / base))
            bold = "**" if name == "pyro-vae" else ""
            ratio = (
                f" {LABELS[baseline][0][:4]} | {bold}{r_med:.3f}{bold} | {r25:.3f}-{r75:.3f} ({r_lo:.3f}-{r_hi:.3f}) |"
            )
        rows.append(
            f"| {batch_size} | {label} | {med:.3f} | {p25:.3f}-{p75:.3f} ({lo:.3f}-{hi:.3f}) | "
            f"{_mb(m.torch_working, 2)} | {_mb(m.python_peak, 3)} |{ratio}"
        )
    return rows


def print_table(all_results: dict[int, dict[str, Measurement]]) -> None:
    """The Markdown table of every batch size and variant."""
    print()
    print(
        "| batch | variant | ms/step median | ms/step p25-p75 (min-max) | torch working MB/step | Python peak MB/step "
        "| baseline | ratio to it, median | ratio p25-p75 (min-max) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for batch_size, results in all_results.items():
        for row in table_rows(batch_size, results):
            print(row)
    print(
        "\nRatios are block-paired, against the baseline with the same optimizer: block i of (c) over block i of "
        "(a'), of (b) and (c') over block i of (a), then summarised over blocks. The headline is (c)/(a')."
    )
    print()
    for batch_size, results in all_results.items():
        print(headline(batch_size, results))


def headline(batch_size: int, results: dict[str, Measurement]) -> str:
    """The ratios the targets are set on: (c)/(a') and (c)/(b), block-paired medians with their p25-p75."""
    if "pyro-vae" not in results:
        return f"- batch {batch_size}: (c) not measured"
    c = np.asarray(results["pyro-vae"].seconds)
    parts = []
    for baseline, name in (("torch-fused", "hand-written PyTorch, fused Adam (a')"), ("pyro", "idiomatic Pyro (b)")):
        if baseline not in results:
            continue
        med, p25, p75, _, _ = summary(list(c / np.asarray(results[baseline].seconds)))
        parts.append(f"{med:.3f} ({p25:.3f}-{p75:.3f}) of {name}")
    return f"- batch {batch_size}: (c) pyro-vae's step takes " + "; ".join(parts)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", default="128,512", help="comma-separated batch sizes")
    parser.add_argument("--steps", type=int, default=50, help="timed steps per block")
    parser.add_argument("--repeats", type=int, default=10, help="alternating blocks per variant")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps per variant before timing (>= 1)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto (default cpu)")
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="skip the memory measurement")
    parser.add_argument(
        "--variants",
        default=",".join(LABELS),
        help=f"comma-separated variants to time, alternating in this order (default: all, {','.join(LABELS)})",
    )
    args = parser.parse_args()
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if not args.variants or set(args.variants) - set(LABELS):
        parser.error(f"--variants must name some of {', '.join(LABELS)}")
    if not args.batch_sizes or min(args.batch_sizes) < 1:
        parser.error("--batch-sizes must list positive integers")
    if min(args.steps, args.repeats, args.warmup) < 1:
        parser.error("--steps, --repeats and --warmup must be positive")
    return args


def main() -> None:
    args = parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print_header(args)
    all_results = {}
    for batch_size in args.batch_sizes:
        all_results[batch_size] = measure(args, batch_size)
        print_loss_check(batch_size, all_results[batch_size])
        print(headline(batch_size, all_results[batch_size]), flush=True)
    print_table(all_results)


if __name__ == "__main__":
    main()
