"""Every error and warning molood raises on purpose, in one place (as ``sklearn.exceptions``).

All errors derive from :class:`MoloodError`, so ``except molood.MoloodError`` catches any of
them; each also derives from the built-in exception it refines (``ValueError``, ...), so code
written against the built-ins keeps working. This module imports nothing.
"""

from __future__ import annotations

__all__ = [
    "MoloodError",
    "NotFittedError",
    "MoloodInputError",
    "MoloodModelError",
    "MoloodResumeError",
    "ShardMismatchError",
    "MoloodVersionWarning",
    "Terminated",
]


class MoloodError(Exception):
    """Root of molood's errors."""


class NotFittedError(MoloodError, ValueError, AttributeError):
    """A detector method needs a fitted model (``fit`` it, or load a model file, first).

    Also an ``AttributeError`` and a ``ValueError``, like scikit-learn's ``NotFittedError``.
    """


class MoloodInputError(MoloodError, ValueError):
    """An input file or frame cannot be read as asked (unknown format, missing column, ...)."""


class MoloodModelError(MoloodError, ValueError):
    """A file is not a readable molood model file (nothing in it is ever executed)."""


class MoloodResumeError(MoloodError, RuntimeError):
    """``resume`` was asked for, but the interrupted run's work directory belongs to another
    run (other input, model or settings)."""


class ShardMismatchError(MoloodError, ValueError):
    """Screened shards cannot be merged: they differ in model, fpr, version or columns."""


class MoloodVersionWarning(UserWarning):
    """A model file was written by other molood/torch/dgl versions than the running ones."""


class Terminated(KeyboardInterrupt):
    """A run stopped by a signal other than Ctrl-C (SIGTERM from ``kill`` or a batch scheduler).

    A ``KeyboardInterrupt``, so that it takes the Ctrl-C path (finished work kept for
    ``resume``); ``signum`` lets the command line exit with ``128 + signum`` (143 for SIGTERM),
    as a shell reports a process killed by that signal.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum
