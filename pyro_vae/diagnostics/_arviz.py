"""ArviZ, imported once and without its import-time notice about the coming refactor."""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")
    import arviz

__all__ = ["arviz"]
