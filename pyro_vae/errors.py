"""Exceptions raised for bad input.

Every error a user can cause derives from :class:`PyroVAEError`, so the CLI can
print its message (which names the problem and the fix) without a traceback.
"""

from __future__ import annotations

__all__ = ["ConfigError", "DataError", "InputNotice", "PyroVAEError", "RunDirError", "TrainingError"]


class PyroVAEError(Exception):
    """Base class of the errors pyro-vae raises for bad input."""


class ConfigError(PyroVAEError, ValueError):
    """A configuration value, name or option is invalid."""


class DataError(PyroVAEError, ValueError):
    """The data cannot be used as given (shape, values, support, size)."""


class RunDirError(PyroVAEError, OSError):
    """A run directory is missing, incomplete, or would be overwritten."""


class TrainingError(PyroVAEError, RuntimeError):
    """Training cannot go on (e.g. the loss became NaN)."""


class InputNotice(UserWarning):
    """A warning that says what pyro-vae decided about ambiguous input (a header row, grey images).

    The command line prints it as one ``note:`` line; from Python it is an
    ordinary warning (``warnings.simplefilter("error", InputNotice)`` makes it fatal).
    """
