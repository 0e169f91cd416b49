"""Diagnostics through ArviZ: PSIS k-hat of the guide's importance weights, InferenceData export."""

from pyro_vae.diagnostics.psis import KHAT_THRESHOLD, MIN_PSIS_DRAWS, psis_khat, summarize_khat

__all__ = ["KHAT_THRESHOLD", "MIN_PSIS_DRAWS", "psis_khat", "summarize_khat"]
