"""Training: the loop, checkpoints, run directories, KL warm-up and early stopping."""

from pyro_vae.training.checkpoint import MODEL_KEYS, TRAINING_KEYS, load_checkpoint, save_checkpoint
from pyro_vae.training.history import METRIC_COLUMNS, read_metrics, write_metrics
from pyro_vae.training.identity import check_parameters
from pyro_vae.training.lock import hold_lock
from pyro_vae.training.run_dir import RunDir, write_json
from pyro_vae.training.schedule import EarlyStopping, kl_weight
from pyro_vae.training.trainer import Trainer

__all__ = [
    "METRIC_COLUMNS",
    "MODEL_KEYS",
    "TRAINING_KEYS",
    "EarlyStopping",
    "RunDir",
    "Trainer",
    "check_parameters",
    "hold_lock",
    "kl_weight",
    "load_checkpoint",
    "read_metrics",
    "save_checkpoint",
    "write_json",
    "write_metrics",
]
