"""Training: the loop, checkpoints, run directories, KL warm-up and early stopping."""

from pyro_vae.training.checkpoint import load_checkpoint, save_checkpoint
from pyro_vae.training.history import METRIC_COLUMNS, read_metrics, write_metrics
from pyro_vae.training.run_dir import RunDir, write_json
from pyro_vae.training.schedule import EarlyStopping, kl_weight
from pyro_vae.training.trainer import Trainer

__all__ = [
    "METRIC_COLUMNS",
    "EarlyStopping",
    "RunDir",
    "Trainer",
    "kl_weight",
    "load_checkpoint",
    "read_metrics",
    "save_checkpoint",
    "write_json",
    "write_metrics",
]
