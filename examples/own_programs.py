"""Your own Pyro programs: a VAE with a two-level hierarchical prior, written by hand, fitted by pyro-vae.

Generative model (``HierarchicalModel``): ``z2 ~ N(0, I)``, ``z1 | z2 ~ N(mu(z2), diag sigma(z2)^2)``,
``x | z1 ~ Bernoulli(decoder(z1))``. Guide (``LadderGuide``): ``q(z1 | x) q(z2 | z1)``. Both follow
pyro-vae's contract (see the README, "Your own Pyro programs"): signature ``(x, y=None)``, every site
in the data plate (``dim=-1``), the examples observed at site ``"x"``. pyro-vae trains them with its
trainer (any estimator that suits them, checkpoints, early stopping, KL warm-up) and scores them with
its importance-sampled log-likelihood and PSIS, through Pyro traces.

    python examples/own_programs.py --epochs 30 --out runs/hierarchical
"""

from __future__ import annotations

import argparse

import pyro
import pyro.distributions as dist
from pyro.nn import PyroModule
from torch import Tensor, nn

import pyro_vae

PIXELS, Z1, Z2, HIDDEN = 64, 8, 2, 128


def mlp(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, n_out))


def normal(params: Tensor) -> dist.Distribution:
    """A diagonal Normal from ``[loc, raw scale]`` side by side, as one event."""
    loc, raw = params.chunk(2, -1)
    return dist.Normal(loc, nn.functional.softplus(raw) + 1e-4).to_event(1)


class HierarchicalModel(PyroModule):
    """p(z2) p(z1 | z2) p(x | z1) for images (B, 1, 8, 8)."""

    def __init__(self) -> None:
        super().__init__()
        self.top = mlp(Z2, 2 * Z1)
        self.decoder = mlp(Z1, PIXELS)

    def forward(self, x: Tensor, y: Tensor | None = None) -> None:
        with pyro.plate("data", x.shape[0]):
            z2 = pyro.sample("z2", dist.Normal(x.new_zeros(Z2), 1.0).to_event(1))
            z1 = pyro.sample("z1", normal(self.top(z2)))
            # shapes from the right: evaluation draws K particles at once, z1 is then (K, B, Z1)
            logits = self.decoder(z1).reshape(*z1.shape[:-1], *x.shape[1:])
            pyro.sample("x", dist.Bernoulli(logits=logits).to_event(3), obs=x)


class LadderGuide(PyroModule):
    """q(z1 | x) q(z2 | z1)."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = mlp(PIXELS, 2 * Z1)
        self.up = mlp(Z1, 2 * Z2)

    def forward(self, x: Tensor, y: Tensor | None = None) -> None:
        with pyro.plate("data", x.shape[0]):
            z1 = pyro.sample("z1", normal(self.encoder(x.flatten(1))))
            pyro.sample("z2", normal(self.up(z1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default=None, help="run directory (default: nothing written)")
    args = parser.parse_args()

    model, guide = HierarchicalModel(), LadderGuide()
    result = pyro_vae.fit(
        model=model,
        guide=guide,  # the embedded 8x8 digits (the default data), binarized afresh each epoch
        **{"data.binarize": "dynamic"},
        epochs=args.epochs,
        kl_warmup_epochs=min(5, args.epochs),  # scales z1 and z2's terms: the programs need nothing for it
        eval={"samples": 200},
        out=args.out,
        log=print,
    )
    test = result.data.test.x
    print("test log-likelihood (nats per image):", round(result.summary["test_log_likelihood"], 2))
    print("PSIS k-hat mean:", result.summary["psis_khat_mean"])
    scores = result.vae.log_likelihood(test, samples=200)  # per image: the least likely are anomalies
    print("least likely test images:", scores.argsort()[:5].tolist())
    codes = result.vae.transform(test[:1])[0].tolist()
    print("codes (z1 then z2 means) of the first image:", [round(v, 2) for v in codes])
    # a saved run is reloaded (or resumed) with the same programs:
    #   vae, config = pyro_vae.load_run(args.out, model=HierarchicalModel(), guide=LadderGuide())


if __name__ == "__main__":
    main()
