"""``pyro-vae score``: per-example ELBO and log-likelihood of new data (anomaly scores)."""

from __future__ import annotations

import argparse

from pyro_vae.scoring import check_out, score, write_scores

HELP = """\
Score every example of FILE under the best checkpoint of RUN_DIR: its ELBO and its
importance-sampled log-likelihood (K samples), in nats, one CSV row each
(index,elbo,log_likelihood, and psis_khat for K >= 25: above 0.7 the estimate is
unreliable); low values are examples the model finds unlikely.
FILE (.npy, .npz, .csv or a folder of images) is prepared as the run's data were:
divided by the run's scale and binarized by its rule; its examples must have the
run's shape. The run's eval.batch_size and eval.seed are used, so its own test
split gives back summary.json's test figures.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``score``."""
    p = sub.add_parser("score", help="per-example ELBO and log-likelihood of new data", description=HELP)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by pyro-vae fit")
    p.add_argument("--data", required=True, metavar="FILE", help="the examples to score")
    p.add_argument("--samples", type=int, metavar="K", help="importance samples per example (default: eval.samples)")
    p.add_argument("--out", required=True, metavar="FILE.csv", help="the CSV file to write")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Score and write the CSV."""
    check_out(args.out, ".csv")
    scores = score(args.run_dir, args.data, samples=args.samples)
    write_scores(scores, args.out)
    print(
        f"scored {len(scores.elbo)} examples: mean elbo {scores.elbo.mean():.3f}, mean log-likelihood "
        f"{scores.log_likelihood.mean():.3f} (nats per example); wrote {args.out}"
    )
