"""Time per epoch of the semi-supervised VAE (M2, labels enumerated): idiomatic Pyro against pyro-vae.

Two implementations of one training epoch of the same model are timed in one
process, alternating, on the same data split:

(a) ``pyro``: the model written the way Pyro's semi-supervised VAE tutorial
    writes it. A ``model(xs, ys=None)`` and a ``guide(xs, ys=None)`` register
    the networks with ``pyro.module`` and run inside one ``pyro.plate``; the
    guide draws ``y ~ OneHotCategorical(q(y|x))`` only when ``ys`` is missing,
    enumerated in parallel (``config_enumerate``), then ``z ~ q(z|x, y)``;
    the model scores ``y`` against a uniform prior, ``z`` against N(0, I) and
    the image against ``Bernoulli(decoder(z, y))``. The classification loss
    ``alpha * -log q(y|x)`` on labelled images is a second model/guide pair
    (``model_classify`` observes ``y`` under ``q(y|x)`` scaled by ``alpha``,
    ``guide_classify`` is empty). Two ``SVI`` objects share one
    ``pyro.optim.Adam``: ``SVI(model, config_enumerate(guide), optim,
    TraceEnum_ELBO(max_plate_nesting=1))`` and ``SVI(model_classify,
    guide_classify, optim, Trace_ELBO())``. An epoch is the tutorial's: every
    labelled image once in supervised batches of ``--batch-size`` (each one
    ``svi.step(xs, ys)`` then ``svi_aux.step(xs, ys)``: two optimizer steps),
    every unlabelled image once in unsupervised batches (``svi.step(xs)``),
    a supervised batch at every position ``i`` with ``i % (N // L) == 1``
    (``N`` training images, ``L`` labelled) until they run out.
(b) ``pyro-vae``: ``Trainer.train_step`` of the library's ``ss_vae`` kind,
    built from a config as ``pyro_vae.fit`` builds it (estimator ``enum``,
    optimizer ``adam``: torch's fused Adam kernel, pyro-vae's default). Its
    epoch (``TrainingBatches``) is one pass over the unlabelled images in
    batches of ``--batch-size`` rows of which ``train.labelled_per_batch`` are
    labelled, cycled; ``labelled_per_batch = round(batch size * L / N)``, so
    with the defaults (N = 50,000, L = 3,000, batch 200: 12 per batch) both
    epochs see 47,000 unlabelled and 3,000 labelled images in 250 batches of
    200. The classification loss is a factor in the guide: one objective, one
    optimizer step per batch.
(b') ``pyro-vae-loop`` (only with ``--loop-adam``): (b) with ``optimizer =
    {name = "adam", fused = false}``, the per-tensor Adam loop (a) uses, which
    separates pyro-vae's own overhead from the optimizer's.

The networks are pyro-vae's, with the same shapes in (a), which starts from a
copy of the parameters pyro-vae initialised for (b): classifier MLP
784-500-10; ``q(z|x, y)`` as pyro-vae lays it out, a body MLP 784-500-500
applied to ``x`` once and a head ``softplus, Linear(500 + 10, 500), softplus,
Linear(500, 2 * 50)`` applied to ``[body(x), one_hot(y)]`` for every
enumerated ``y``, scale ``softplus(raw) + 1e-6``; decoder MLP 60-500-784 on
``[z, one_hot(y)]``; softplus activations, ``z`` of 50 dimensions, ``alpha`` 46
(the tutorial's multiplier), Adam learning rate 1e-3, float32, CPU.

Differences that remain, all stated here so a result can be read fairly:

- the tutorial's own encoder for ``z`` concatenates ``[x, y]`` at its input,
  so it runs the first 784-wide layer once per enumerated class, and its
  networks end in clipped softmax / sigmoid probabilities and an ``exp``
  scale; (a) uses pyro-vae's body/head layout, logits and ``softplus`` scale
  instead, so the two variants compute the same numbers (the loss check below
  shows it). (a) applies the head to ``[body(x), one_hot(y)]`` for every
  enumerated ``y``, as one writes it by hand; pyro-vae applies the head's first
  layer to ``body(x)`` once and adds a per-class row of a table (the same
  layer, less arithmetic): that saving is part of what is measured;
- (a) takes one optimizer step more per supervised batch (its two SVI objects)
  and sums its losses over the batch (no ``1 / batch size`` scale: Adam makes
  the updates nearly scale free); (b) steps on ``(loss / batch size)``;
- (a) uses ``pyro.optim.Adam`` (one torch Adam per parameter, per-tensor
  loop); (b) torch's fused Adam (see (b') for the split);
- (a) runs with Pyro's defaults, distribution validation on
  (``--no-validation`` turns it off); pyro-vae turns it off during training
  (``train.validate_distributions = false``, its default);
- the tutorial also steps its auxiliary SVI on unsupervised batches, where it
  does nothing but trace an empty model; (a) skips those calls, in its favour;
- the labelled rows of (b)'s batches are the same images as (a)'s supervised
  batches but grouped differently, and the two variants draw their own
  shuffles and dynamic binarizations (same distribution, not the same pixels).

Batches are drawn before timing (dynamic binarization, ``data.shift = 0``),
so data loading is excluded from both; the time pyro-vae's ``TrainingBatches``
takes to draw the timed batches is printed once for reference.

Timing: after ``--warmup`` untimed batches of each variant, ``--repeats``
blocks run in the order a, b, (b'), a, ...; a block is one pass over the first
``--batches`` batches of the variant's epoch (0: the whole epoch), each batch
timed with ``time.perf_counter``. A block's seconds per epoch is the mean time
of each kind of batch (supervised and unsupervised for (a), mixed for (b))
times that kind's number of batches in a whole epoch: exact for a whole epoch,
an extrapolation for a prefix. The ratio (b)/(a) is taken block by block and
summarised by its median, 25th-75th percentiles and range.

Memory per step is measured after timing, on a few extra steps of each kind
of batch: ``torch working MB`` is the most memory held by torch's CPU
allocator during one batch beyond the parameters and the Adam state (gradients,
activations, temporaries: every allocation and free recorded by
``torch.profiler`` with ``profile_memory=True``, summed in time order, the
peak within the batch above its level at the start, plus the gradients held
between batches); ``Python peak MB`` is the most memory of Python objects live
during one batch (``tracemalloc``; tensor storage not counted).

The loss check evaluates both variants, before any training, on the same
batch (the first of (b)'s epoch), split by labelled and unlabelled rows, each
after ``torch.manual_seed(0)``: both draw the same ``z``, so the numbers agree
to float rounding unless the two compute different things.

Data: MNIST from ``--data-root`` (torchvision's layout, ``ROOT/MNIST/raw``),
10,000 of the 60,000 training images held out for validation as the tutorial
does, ``--labels`` of the rest keeping their label (balanced, seeded). With
``--data synthetic``: seeded uniform grey levels and random labels of the
same sizes, for machines without MNIST.

Run it on an otherwise idle machine and paste the output into ``benchmarks/RESULTS.md``:

    python benchmarks/ss_step.py --data-root ../shared/data
    python benchmarks/ss_step.py --data-root ../shared/data --batches 50 --repeats 5 --threads 1
"""

from __future__ import annotations

import argparse
import datetime
import gc
import itertools
import math
import platform
import shlex
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyro
import pyro.distributions as dist
import torch
from _memory import python_peak_bytes, torch_working_bytes  # benchmarks/_memory.py
from pyro import poutine
from pyro.infer import SVI, Trace_ELBO, TraceEnum_ELBO, config_enumerate
from pyro_vae.guides.vae import MIN_SCALE
from torch import Tensor, nn
from torch.nn.functional import one_hot, softplus

from pyro_vae._pyro import local_params
from pyro_vae.assemble import initial_vae, prepare_data
from pyro_vae.config import RunConfig, resolve_config
from pyro_vae.data import DataBundle, TrainingBatches
from pyro_vae.data.prepare import Split
from pyro_vae.ss_vae import SSVAE
from pyro_vae.training import Trainer

EVENT_SHAPE = (1, 28, 28)
PIXELS = math.prod(EVENT_SHAPE)
CLASSES = 10
HIDDEN = 500
FEATURES = 500
Z_DIM = 50
ALPHA = 46.0
LR = 1e-3
SEED = 0
#: MNIST's training images and the tutorial's validation hold-out
MNIST_TRAIN, VALIDATION = 60_000, 10_000
#: extra batches of each kind on which memory is measured (the largest is reported)
MEMORY_STEPS = 3
MB = 2.0**20
LABELS = {"pyro": "(a) pyro, two SVI", "pyro-vae": "(b) pyro-vae", "pyro-vae-loop": "(b') pyro-vae, per-tensor Adam"}


@dataclass
class Batch:
    """One batch of an epoch: images, labels and what kind of batch it is.

    ``y`` is one-hot ``(B, 10)`` for (a)'s supervised batches, ``None`` for its
    unsupervised ones, and ``(B,)`` class indices with ``-1`` where missing for
    (b)'s mixed batches.
    """

    x: Tensor
    y: Tensor | None
    kind: str


@dataclass
class Variant:
    """One implementation: its step on a batch, the batches it times, and its epoch's composition."""

    step: Callable[[Batch], float]
    batches: list[Batch]
    per_epoch: dict[str, int]  # batches of each kind in a whole epoch
    optimizer_steps: int  # per whole epoch
    rows: tuple[int, int]  # labelled and unlabelled rows per whole epoch
    params: list[Tensor]

    def grad_bytes(self) -> int:
        """Bytes of the gradients currently held by the parameters."""
        return sum(p.grad.nbytes for p in self.params if p.grad is not None)


# -- data -----------------------------------------------------------------------------------------


def run_config(args: argparse.Namespace, lpb: int = 1, fused: bool | None = None) -> RunConfig:
    """pyro-vae's configuration of (b): the data, the M2 model with MLP networks, and training.

    ``fused`` is the ``adam`` optimizer's option (``None``: pyro-vae's default, fused where torch has it).
    """
    data = {"binarize": "dynamic", "labels": args.labels, "val_fraction": VALIDATION / MNIST_TRAIN}
    if args.data == "mnist":
        data.update(name="mnist", root=args.data_root)
    else:
        data.update(name="array", scale=1.0, test_fraction=VALIDATION / (MNIST_TRAIN + VALIDATION))
        data.update(val_fraction=VALIDATION / (MNIST_TRAIN + VALIDATION))
    model = {
        "kind": "ss_vae",
        "factors": ["digit"],
        "z_dim": Z_DIM,
        "prior": "normal",
        "likelihood": "bernoulli",
        "network": {"name": "mlp", "hidden": [HIDDEN], "activation": "softplus"},
        "classifier": None,  # the network spec above: an MLP 784-500-10
        "features": FEATURES,
        "alpha": ALPHA,
        "adversary": 0.0,
        "consistency": 0.0,
    }
    train = {"batch_size": args.batch_size, "labelled_per_batch": lpb, "lr": LR}
    train.update(estimator="enum", optimizer={"name": "adam", "fused": fused}, grad_clip=0.0, kl_warmup_epochs=0.0)
    return resolve_config(seed=SEED, data=data, model=model, train=train)


def load(args: argparse.Namespace) -> DataBundle:
    """MNIST (or the synthetic stand-in) split and labelled as :func:`run_config` says."""
    config = run_config(args)
    if args.data == "mnist":
        return prepare_data(config)
    gen = torch.Generator().manual_seed(SEED)
    x = torch.rand((MNIST_TRAIN + VALIDATION, *EVENT_SHAPE), generator=gen)
    return prepare_data(config, x.numpy(), torch.randint(CLASSES, (len(x),), generator=gen).numpy())


def labelled_per_batch(train: Split, batch_size: int) -> int:
    """``round(batch size * L / N)``: labelled rows per (b) batch giving the labelled share of the split."""
    known = int((train.labels >= 0).sum())
    return round(batch_size * known / len(train))


def tutorial_plan(train: Split, batch_size: int, gen: torch.Generator) -> list[tuple[str, Tensor]]:
    """Row indices of every batch of (a)'s epoch, in the tutorial's order.

    Labelled and unlabelled rows are shuffled separately and cut into batches;
    a supervised batch goes at every position ``i`` with ``i % (N // L) == 1``
    while any are left (and wherever the unsupervised ones have run out).
    """
    known = train.labels >= 0
    sup = list(known.nonzero().flatten()[torch.randperm(int(known.sum()), generator=gen)].split(batch_size))
    unsup = list((~known).nonzero().flatten()[torch.randperm(int((~known).sum()), generator=gen)].split(batch_size))
    interval = len(train) // int(known.sum())
    if interval < 2:
        raise SystemExit("the tutorial's schedule needs fewer than half the training images labelled: lower --labels")
    plan, taken = [], 0
    for i in range(len(sup) + len(unsup)):
        if taken < len(sup) and (i % interval == 1 or i - taken >= len(unsup)):
            plan.append(("supervised", sup[taken]))
            taken += 1
        else:
            plan.append(("unsupervised", unsup[i - taken]))
    return plan


def tutorial_batches(train: Split, plan: list[tuple[str, Tensor]], gen: torch.Generator) -> list[Batch]:
    """(a)'s batches for ``plan``: images binarized afresh, one-hot labels for the supervised ones."""
    batches = []
    for kind, rows in plan:
        x = torch.bernoulli(train.x[rows], generator=gen)
        y = one_hot(train.labels[rows], CLASSES).to(x.dtype) if kind == "supervised" else None
        batches.append(Batch(x, y, kind))
    return batches


def pyro_vae_batches(trainer: Trainer, count: int) -> tuple[list[Batch], int, float]:
    """The first ``count`` batches of (b)'s epoch (0: all), drawn by pyro-vae's ``TrainingBatches``.

    Returns
    -------
    tuple[list[Batch], int, float]
        The batches, the number of batches in a whole epoch, and the seconds the drawing took.
    """
    cfg = trainer.config.train
    gen = torch.Generator().manual_seed(SEED)
    epoch = TrainingBatches(trainer.data.train, cfg.batch_size, cfg.labelled_per_batch, gen, True, 0)
    start = time.perf_counter()
    drawn = list(itertools.islice(epoch, count or len(epoch)))
    seconds = time.perf_counter() - start
    return [Batch(x, y, "mixed") for x, y in drawn], len(epoch), seconds


# -- (a): the tutorial's way ----------------------------------------------------------------------


class MLP(nn.Module):
    """``Linear, softplus, Linear``: the layout (``net.0``, ``net.2``) of pyro-vae's MLP encoder and decoder."""

    def __init__(self, fan_in: int, hidden: int, fan_out: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(fan_in, hidden), nn.Softplus(), nn.Linear(hidden, fan_out))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def cat_broadcast(a: Tensor, b: Tensor) -> Tensor:
    """``a`` and ``b`` concatenated along the last dimension after broadcasting the others (enumeration)."""
    shape = torch.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    return torch.cat([a.expand(*shape, -1), b.expand(*shape, -1)], dim=-1)


class M2Networks(nn.Module):
    """The four networks of (a), laid out as pyro-vae's so its initial parameters load unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.classifier = MLP(PIXELS, HIDDEN, CLASSES)
        self.body = MLP(PIXELS, HIDDEN, FEATURES)
        self.head = nn.Sequential(
            nn.Softplus(), nn.Linear(FEATURES + CLASSES, FEATURES), nn.Softplus(), nn.Linear(FEATURES, 2 * Z_DIM)
        )
        self.decoder = MLP(Z_DIM + CLASSES, HIDDEN, PIXELS)

    def classify(self, xs: Tensor) -> Tensor:
        """Logits of ``q(y|x)``, ``(B, 10)``."""
        return self.classifier(xs.flatten(1))

    def z_posterior(self, xs: Tensor, ys: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and scale of ``q(z|x, y)`` for one-hot ``ys`` (enumerated dimensions broadcast)."""
        loc, raw = self.head(cat_broadcast(self.body(xs.flatten(1)), ys)).split(Z_DIM, dim=-1)
        return loc, softplus(raw) + MIN_SCALE

    def decode(self, zs: Tensor, ys: Tensor) -> Tensor:
        """Bernoulli logits of ``p(x|y, z)``, ``(..., 1, 28, 28)``."""
        return self.decoder(cat_broadcast(zs, ys)).unflatten(-1, EVENT_SHAPE)

    @classmethod
    def like(cls, vae: SSVAE) -> M2Networks:
        """Networks holding a copy of ``vae``'s parameters (strict loads: fail unless the layouts match)."""
        nets = cls()
        nets.classifier.load_state_dict(vae.guide.classifiers[0].state_dict())
        nets.body.load_state_dict(vae.guide.body.state_dict())
        nets.head.load_state_dict(vae.guide.head.state_dict())
        nets.decoder.load_state_dict(vae.model.decoder.state_dict())
        return nets


@dataclass
class TutorialM2:
    """Variant (a): the M2 model and guide, the classification pair, and their two ``SVI`` objects."""

    nets: M2Networks

    def __post_init__(self) -> None:
        optim = pyro.optim.Adam({"lr": LR})
        guide = config_enumerate(self.guide, "parallel")
        self.svi = SVI(self.model, guide, optim, TraceEnum_ELBO(max_plate_nesting=1))
        self.svi_aux = SVI(self.model_classify, self.guide_classify, optim, Trace_ELBO())

    def model(self, xs: Tensor, ys: Tensor | None = None) -> None:
        """``y ~ uniform, z ~ N(0, I), x ~ Bernoulli(decoder(z, y))`` per row; ``ys`` observed when given."""
        pyro.module("ss_vae", self.nets)
        batch = xs.shape[0]
        with pyro.plate("data", batch):
            ys = pyro.sample("y", dist.OneHotCategorical(logits=xs.new_zeros(batch, CLASSES)), obs=ys)
            zs = pyro.sample("z", dist.Normal(xs.new_zeros(batch, Z_DIM), xs.new_ones(batch, Z_DIM)).to_event(1))
            pyro.sample("x", dist.Bernoulli(logits=self.nets.decode(zs, ys)).to_event(3), obs=xs)

    def guide(self, xs: Tensor, ys: Tensor | None = None) -> None:
        """``y ~ q(y|x)`` where ``ys`` is missing, then ``z ~ q(z|x, y)``."""
        pyro.module("ss_vae", self.nets)
        with pyro.plate("data", xs.shape[0]):
            if ys is None:
                ys = pyro.sample("y", dist.OneHotCategorical(logits=self.nets.classify(xs)))
            loc, scale = self.nets.z_posterior(xs, ys)
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))

    def model_classify(self, xs: Tensor, ys: Tensor) -> None:
        """The classification loss as a model: ``ys`` observed under ``q(y|x)``, scaled by ``alpha``."""
        pyro.module("ss_vae", self.nets)
        with pyro.plate("data", xs.shape[0]), poutine.scale(scale=ALPHA):
            pyro.sample("y_aux", dist.OneHotCategorical(logits=self.nets.classify(xs)), obs=ys)

    def guide_classify(self, xs: Tensor, ys: Tensor) -> None:
        """Nothing to infer for the classification loss."""

    def step(self, batch: Batch) -> float:
        """The tutorial's step on one batch: both SVI objects if supervised; returns the summed loss."""
        if batch.y is None:
            return self.svi.step(batch.x)
        return self.svi.step(batch.x, batch.y) + self.svi_aux.step(batch.x, batch.y)

    def losses(self, x: Tensor, y: Tensor) -> tuple[float, float]:
        """Summed loss on the labelled rows (ELBO + classification) and on the unlabelled rows, no update."""
        known = y >= 0
        x_l, y_l = x[known], one_hot(y[known], CLASSES).to(x.dtype)
        labelled = self.svi.evaluate_loss(x_l, y_l) + self.svi_aux.evaluate_loss(x_l, y_l)
        return labelled, self.svi.evaluate_loss(x[~known])


def tutorial_variant(vae: SSVAE, train: Split, args: argparse.Namespace, n_b: int) -> tuple[Variant, TutorialM2]:
    """Variant (a), from a copy of ``vae``'s initial parameters, with its batches.

    It times the same share of its epoch as (b) does of its ``n_b`` batches.
    The global parameter store is cleared first; ``pyro.module`` registers the
    networks in it on the first step.
    """
    pyro.clear_param_store()
    m2 = TutorialM2(M2Networks.like(vae))
    gen = torch.Generator().manual_seed(SEED + 1)
    plan = tutorial_plan(train, args.batch_size, gen)
    per_epoch = {kind: sum(k == kind for k, _ in plan) for kind in ("supervised", "unsupervised")}
    count = round(args.batches * len(plan) / n_b) if args.batches else len(plan)
    batches = tutorial_batches(train, plan[:count], gen)
    steps = 2 * per_epoch["supervised"] + per_epoch["unsupervised"]
    known = int((train.labels >= 0).sum())
    rows = (known, len(train) - known)
    return Variant(m2.step, batches, per_epoch, steps, rows, list(m2.nets.parameters())), m2


# -- (b): pyro-vae --------------------------------------------------------------------------------


def pyro_vae_trainer(args: argparse.Namespace, data: DataBundle, fused: bool | None = None) -> Trainer:
    """pyro-vae's trainer of (b) (``fused``: the ``adam`` option; ``None`` is pyro-vae's default)."""
    config = run_config(args, labelled_per_batch(data.train, args.batch_size), fused)
    vae = initial_vae(config, data)
    vae.train()
    return Trainer(vae, config, data, run_dir=None, log=None, progress=False)


def trainer_variant(trainer: Trainer, batches: list[Batch], n_batches: int) -> Variant:
    """``trainer.train_step(x, y, 1.0)`` as a variant on ``batches`` (KL weight 1)."""

    def step(batch: Batch) -> float:
        return float(trainer.train_step(batch.x, batch.y, 1.0))  # read each step, as before

    cfg, train = trainer.config.train, trainer.data.train
    rows = (n_batches * cfg.labelled_per_batch, int((train.labels < 0).sum()))
    return Variant(step, batches, {"mixed": n_batches}, n_batches, rows, list(trainer.loss.parameters()))


def trainer_losses(trainer: Trainer, x: Tensor, y: Tensor) -> tuple[float, float]:
    """Summed loss of (b) on the labelled and on the unlabelled rows of a batch, no update."""
    known, module = y >= 0, trainer.loss
    with local_params(), pyro.validation_enabled(False):
        labelled = module.elbo.loss(module.model, module.guide, x[known], y[known], kl_weight=1.0)
        return labelled, module.elbo.loss(module.model, module.guide, x[~known], y[~known], kl_weight=1.0)


# -- measuring ------------------------------------------------------------------------------------


def run_block(variant: Variant) -> list[tuple[str, float]]:
    """One pass over the variant's batches; the kind and seconds of every batch."""
    gc.collect()
    times = []
    for batch in variant.batches:
        start = time.perf_counter()
        variant.step(batch)
        times.append((batch.kind, time.perf_counter() - start))
    return times


def epoch_seconds(times: list[tuple[str, float]], per_epoch: dict[str, int]) -> float:
    """Seconds per whole epoch: the mean time of each kind of batch times its number in an epoch."""
    total = 0.0
    for kind, count in per_epoch.items():
        seen = [s for k, s in times if k == kind]
        if not seen:
            raise SystemExit(f"the timed batches hold no {kind} batch: raise --batches")
        total += count * float(np.mean(seen))
    return total


@dataclass
class Measurement:
    """What one variant gave: seconds per epoch per block, per-batch times, and memory per kind of batch."""

    epoch_seconds: list[float]
    batch_seconds: dict[str, list[float]]
    torch_working: dict[str, int]
    python_peak: dict[str, int]


def measure_memory(variant: Variant) -> tuple[dict[str, int], dict[str, int]]:
    """Torch working bytes and Python peak bytes per step, for the first batch of each kind."""
    working, python = {}, {}
    for kind in variant.per_epoch:
        batch = next(b for b in variant.batches if b.kind == kind)
        working[kind] = torch_working_bytes(lambda b=batch: variant.step(b), variant.grad_bytes(), MEMORY_STEPS)
        python[kind] = python_peak_bytes(lambda b=batch: variant.step(b))
    return working, python


def warm_up(variant: Variant, count: int) -> None:
    """``count`` untimed batches from the start of the variant's batches, and at least one of each kind."""
    seen = set()
    for batch in itertools.islice(itertools.cycle(variant.batches), count):
        variant.step(batch)
        seen.add(batch.kind)
    for kind in variant.per_epoch.keys() - seen:
        variant.step(next(b for b in variant.batches if b.kind == kind))


def measure(variants: dict[str, Variant], repeats: int, warmup: int) -> dict[str, Measurement]:
    """Warm up, time alternating blocks, then measure memory, for every variant."""
    for v in variants.values():
        warm_up(v, warmup)
    blocks: dict[str, list[list[tuple[str, float]]]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, v in variants.items():
            blocks[name].append(run_block(v))
    out = {}
    for name, v in variants.items():
        per_kind = {kind: [s for block in blocks[name] for k, s in block if k == kind] for kind in v.per_epoch}
        epochs = [epoch_seconds(block, v.per_epoch) for block in blocks[name]]
        out[name] = Measurement(epochs, per_kind, *measure_memory(v))
    return out


# -- reporting ------------------------------------------------------------------------------------


def summary(values: list[float]) -> tuple[float, float, float, float, float]:
    """Median, 25th and 75th percentiles, minimum and maximum of ``values``."""
    a = np.asarray(values, dtype=float)
    return float(np.median(a)), *(float(np.percentile(a, q)) for q in (25, 75)), float(a.min()), float(a.max())


def spread(values: list[float], scale: float = 1.0, digits: int = 3) -> tuple[str, str]:
    """``median`` and ``p25-p75 (min-max)`` of ``values * scale`` as text."""
    med, p25, p75, lo, hi = (scale * v for v in summary(values))
    return f"{med:.{digits}f}", f"{p25:.{digits}f}-{p75:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


def print_header(args: argparse.Namespace, data: DataBundle, variants: dict[str, Variant], draw_s: float) -> None:
    """The command, date, machine, data, model and epoch composition, ready for ``RESULTS.md``."""
    print("## Semi-supervised VAE (M2, enumerated labels): idiomatic Pyro (a) against pyro-vae (b)\n")
    print(f"- Command: `python {shlex.join(sys.argv)}`")
    print(
        f"- Date: {datetime.date.today().isoformat()}. Machine: {platform.machine()}, {platform.system()}, "
        f"Python {platform.python_version()}, torch {torch.__version__}, pyro-ppl {pyro.__version__}, "
        f"torch threads {torch.get_num_threads()} (interop {torch.get_num_interop_threads()})."
    )
    known = int((data.train.labels >= 0).sum())
    print(
        f"- Data: {args.data}, {len(data.train)} training images of which {known} labelled, dynamic binarization. "
        f"Classifier MLP 784-{HIDDEN}-{CLASSES}; q(z|x,y) body 784-{HIDDEN}-{FEATURES}, head "
        f"{FEATURES}+{CLASSES}-{FEATURES}-{2 * Z_DIM}; decoder {Z_DIM}+{CLASSES}-{HIDDEN}-784; softplus, "
        f"z_dim {Z_DIM}, alpha {ALPHA:g}, Adam lr {LR:g}, float32, CPU. Pyro validation in (a): "
        f"{'off' if args.no_validation else 'on (Pyro default)'}; in (b): off (pyro-vae default)."
    )
    for name, v in variants.items():
        composition = ", ".join(f"{n} {kind}" for kind, n in v.per_epoch.items())
        print(
            f"- {LABELS[name]}: an epoch is {composition} batches of up to {args.batch_size} rows "
            f"({v.rows[0]} labelled + {v.rows[1]} unlabelled), {v.optimizer_steps} optimizer steps; "
            f"{len(v.batches)} batches timed per block."
        )
    print(
        f"- {args.warmup} warm-up batches per variant, then {args.repeats} blocks per variant, alternating. "
        f"pyro-vae's TrainingBatches drew the timed (b) batches in {draw_s:.3f} s (excluded from the times).\n"
    )


def print_loss_check(losses: dict[str, tuple[float, float]], batch: Batch, sizes: dict[str, int]) -> None:
    """Per-example losses of both variants on the same batch before training, by labelled and unlabelled rows."""
    known = int((batch.y >= 0).sum())
    rows = len(batch.x)
    parts = []
    for name, (lab, unlab) in losses.items():
        parts.append(
            f"{name}: labelled rows {lab / known:.3f}, unlabelled rows {unlab / (rows - known):.3f}, "
            f"all {(lab + unlab) / rows:.3f}"
        )
    print(f"- Loss per example before training, on (b)'s first batch ({known} labelled + {rows - known} unlabelled")
    print(f"  rows; negative ELBO, plus alpha * -log q(y|x) on labelled rows): {'; '.join(parts)}.")
    print(f"- Parameters: {', '.join(f'{name} {n}' for name, n in sizes.items())}.")


def print_tables(results: dict[str, Measurement]) -> None:
    """The Markdown tables: seconds per epoch with the ratio to (a), then time and memory per kind of batch."""
    base = np.asarray(results["pyro"].epoch_seconds)
    print(
        "\n| variant | s/epoch median | s/epoch p25-p75 (min-max) | ratio to (a), median | ratio p25-p75 (min-max) "
        "| torch working MB/step, max | Python peak MB/step, max |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, m in results.items():
        med, rng = spread(m.epoch_seconds)
        ratio = ("1", "") if name == "pyro" else spread(list(np.asarray(m.epoch_seconds) / base), digits=2)
        working, python = max(m.torch_working.values()) / MB, max(m.python_peak.values()) / MB
        print(f"| {LABELS[name]} | {med} | {rng} | {ratio[0]} | {ratio[1]} | {working:.1f} | {python:.2f} |")
    print()
    print("| variant | batch kind | ms/batch median | ms/batch p25-p75 (min-max) | torch working MB | Python peak MB |")
    print("|---|---|---|---|---|---|")
    for name, m in results.items():
        for kind, seconds in m.batch_seconds.items():
            med, rng = spread(seconds, 1e3, 2)
            working, python = m.torch_working[kind] / MB, m.python_peak[kind] / MB
            print(f"| {LABELS[name]} | {kind} | {med} | {rng} | {working:.1f} | {python:.2f} |")
    print("\nRatios are block-paired: block i of (b) over block i of (a), then summarised over blocks.")


# -- main -----------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=["mnist", "synthetic"], default="mnist", help="MNIST or a stand-in")
    parser.add_argument("--data-root", default="../shared/data", help="folder holding MNIST/raw/")
    parser.add_argument("--labels", type=int, default=3000, help="labelled training images (balanced)")
    parser.add_argument("--batch-size", type=int, default=200, help="rows per batch in both variants")
    parser.add_argument("--batches", type=int, default=0, help="time the first N batches of an epoch (0: all)")
    parser.add_argument("--repeats", type=int, default=5, help="alternating blocks per variant")
    parser.add_argument("--warmup", type=int, default=5, help="untimed batches per variant before timing")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--no-validation", action="store_true", help="turn Pyro's validation off for (a)")
    parser.add_argument("--loop-adam", action="store_true", help="also time (b'): pyro-vae with per-tensor Adam")
    args = parser.parse_args()
    if args.data == "mnist" and not (Path(args.data_root) / "MNIST" / "raw").is_dir():
        parser.error(f"no MNIST/raw under --data-root {args.data_root}: point it there, or use --data synthetic")
    if min(args.labels, args.batch_size, args.repeats) < 1 or min(args.warmup, args.batches) < 0:
        parser.error("--labels, --batch-size and --repeats must be positive, --warmup and --batches not negative")
    if args.batches == 1:
        parser.error("--batches must be 0 (the whole epoch) or at least 2 (a supervised and an unsupervised batch)")
    return args


@dataclass
class Setup:
    """The variants, and what the loss check and the header need besides them."""

    variants: dict[str, Variant]
    m2: TutorialM2
    trainer: Trainer
    draw_seconds: float


def build_variants(args: argparse.Namespace, data: DataBundle) -> Setup:
    """(a), (b) and, with ``--loop-adam``, (b'); (a) starts from pyro-vae's initial parameters."""
    lpb = labelled_per_batch(data.train, args.batch_size)
    if not 0 < lpb < args.batch_size:
        raise SystemExit(f"{lpb} labelled rows per batch of {args.batch_size}: change --labels or --batch-size")
    trainer = pyro_vae_trainer(args, data)
    batches, n_batches, draw_s = pyro_vae_batches(trainer, args.batches)
    a, m2 = tutorial_variant(trainer.vae, data.train, args, n_batches)
    variants = {"pyro": a, "pyro-vae": trainer_variant(trainer, batches, n_batches)}
    if args.loop_adam:
        variants["pyro-vae-loop"] = trainer_variant(pyro_vae_trainer(args, data, fused=False), batches, n_batches)
    return Setup(variants, m2, trainer, draw_s)


def loss_check(setup: Setup) -> dict[str, tuple[float, float]]:
    """Both variants' summed losses on (b)'s first batch, labelled and unlabelled rows, with the same seed."""
    first = setup.variants["pyro-vae"].batches[0]
    torch.manual_seed(SEED)
    losses = {"(a)": setup.m2.losses(first.x, first.y)}
    torch.manual_seed(SEED)
    losses["(b)"] = trainer_losses(setup.trainer, first.x, first.y)
    return losses


def main() -> None:
    args = parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.no_validation:
        pyro.enable_validation(False)
    # (a)'s TraceEnum_ELBO finds nothing to enumerate on supervised batches and says so, as in the tutorial
    warnings.filterwarnings("ignore", message="TraceEnum_ELBO found no sample sites configured for enumeration")
    data = load(args)
    setup = build_variants(args, data)
    variants = setup.variants
    losses = loss_check(setup)
    print_header(args, data, variants, setup.draw_seconds)
    sizes = {name: sum(p.numel() for p in v.params) for name, v in variants.items()}
    print_loss_check(losses, variants["pyro-vae"].batches[0], sizes)
    print_tables(measure(variants, args.repeats, args.warmup))


if __name__ == "__main__":
    main()
