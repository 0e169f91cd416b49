"""Optimizers and learning-rate schedulers (plain :mod:`torch.optim`), looked up by name."""

from pyro_vae.optim.optimizers import OPTIMIZERS
from pyro_vae.optim.schedulers import SCHEDULERS

__all__ = ["OPTIMIZERS", "SCHEDULERS"]
