"""Streaming ``.npy`` data: memory stays flat and time per epoch grows linearly as the dataset grows 10x.

Writes ``.npy`` files of ``N`` and ``10 N`` MNIST-sized ``uint8`` images (the
MNIST training images, repeated; or seeded random ones if MNIST is absent),
then fits one epoch on each in a fresh process, with the file memory-mapped
(``data.mmap = true``: batches are read from disk as they are drawn) and,
for contrast, loaded into memory (``data.mmap = false``). Per run it reports
the epoch time, the share of it spent waiting for batches, and two memory
figures:

- peak anonymous memory: the process's own memory (tensors, Python), sampled
  every 20 ms from ``RssAnon`` in ``/proc/self/status``; this is what a
  dataset larger than memory would exhaust;
- peak resident memory (``VmHWM``), which also counts pages of the mapped file
  held in the page cache: the kernel drops those under memory pressure.

    python benchmarks/streaming.py --rows 60000 --out /tmp/streaming
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

MB = 2.0**20


def status_kb(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (``RssAnon``, ``VmHWM``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field} (this benchmark needs Linux)")


class AnonPeak:
    """The largest ``RssAnon`` seen by a background thread sampling every ``interval`` seconds."""

    def __init__(self, interval: float = 0.02) -> None:
        self.peak, self.interval, self._stop = 0, interval, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, status_kb("RssAnon"))
            time.sleep(self.interval)

    def __enter__(self) -> AnonPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def write_file(path: Path, rows: int, data_root: str) -> None:
    """``rows`` images of 28 x 28 ``uint8``: MNIST's training images repeated, or random ones."""
    try:
        from torchvision.datasets import MNIST

        base = MNIST(root=data_root, train=True, download=False).data.numpy()
    except (RuntimeError, OSError):
        base = np.random.default_rng(0).integers(0, 256, (60000, 28, 28), dtype=np.uint8)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(rows, 28, 28))
    for start in range(0, rows, len(base)):
        stop = min(rows, start + len(base))
        out[start:stop] = base[: stop - start]
    out.flush()


def child(path: str, mmap: bool) -> dict[str, float]:
    """Fit one epoch on ``path`` in this process; returns its timings and memory peaks."""
    import pyro_vae

    config = {
        "data": {"name": "npy", "path": path, "mmap": mmap, "binarize": "dynamic"},
        "model": {"z_dim": 16, "network": {"name": "mlp", "hidden": [256]}},
        "train": {"epochs": 1, "batch_size": 256},
        "eval": {"samples": 1, "batch_size": 1000},
    }
    start = time.perf_counter()
    with AnonPeak() as anon:
        result = pyro_vae.fit(config, pictures=False)
    row = result.history[0]
    return {
        "train_rows": len(result.data.train),
        "epoch_seconds": row["seconds"],
        "data_seconds": row["data_seconds"],
        "total_seconds": time.perf_counter() - start,
        "peak_anon_mb": anon.peak / 1024,
        "peak_rss_mb": status_kb("VmHWM") / 1024,
    }


def run_child(path: Path, mmap: bool) -> dict[str, float]:
    """:func:`child` in a fresh Python process, so each run's memory peak is its own."""
    command = [sys.executable, __file__, "--child", str(path), "--mmap" if mmap else "--no-mmap"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=60000, help="rows of the smaller file (the larger has 10x)")
    parser.add_argument("--out", default="/tmp/pyro_vae_streaming", help="folder for the generated .npy files")
    parser.add_argument("--data-root", default="../shared/data", help="folder holding MNIST/raw/")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--mmap", action=argparse.BooleanOptionalAction, default=True, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.mmap)))
        return
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    print(f"- Command: `python {' '.join(sys.argv)}`; date {time.strftime('%Y-%m-%d')}\n")
    print("| file rows | data | train rows | epoch s | waiting for data | peak anonymous MB | peak resident MB |")
    print("|---|---|---|---|---|---|---|")
    for rows in (args.rows, 10 * args.rows):
        path = folder / f"images_{rows}.npy"
        if not path.is_file():
            write_file(path, rows, args.data_root)
        for mmap in (True, False):
            r = run_child(path, mmap)
            print(
                f"| {rows} | {'mapped' if mmap else 'in memory'} | {r['train_rows']} | {r['epoch_seconds']:.1f} | "
                f"{100 * r['data_seconds'] / r['epoch_seconds']:.1f}% | {r['peak_anon_mb']:.0f} | "
                f"{r['peak_rss_mb']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
