"""Whether progress can be drawn as a bar: the one rule screening and training follow.

A bar redrawn in place (tqdm) reads well on a terminal or in a notebook; written anywhere else
(stderr redirected to a file, a CI, Snakemake or SLURM log) it becomes a stream of
``\\r``-separated copies. There, progress is instead a plain log line every
:data:`PROGRESS_SECONDS` seconds. Standard library only.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

__all__ = ["interactive", "say", "duration", "PROGRESS_SECONDS"]

PROGRESS_SECONDS = float(os.environ.get("MOLOOD_PROGRESS_SECONDS", "30"))
"""Seconds between two plain progress lines (environment: ``MOLOOD_PROGRESS_SECONDS``)."""


def interactive(stream: TextIO) -> bool:
    """Whether a redrawn bar is readable on ``stream``: a terminal, or a notebook (tqdm shows a
    widget there)."""
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False
    return "ipykernel" in sys.modules


def say(logger: logging.Logger, text: str) -> None:
    """A progress or status line: logged at INFO when logging is set up for ``logger`` (the
    CLI), else printed to stderr as ``molood: text`` (a script asked for progress)."""
    if logger.hasHandlers() and logger.isEnabledFor(logging.INFO):
        logger.info(text)
    else:
        print(f"molood: {text}", file=sys.stderr, flush=True)


def duration(seconds: float | None) -> str:
    """``seconds`` for people: "40 s", "12 min", "3.5 h"."""
    s = float(seconds or 0)
    return f"{s / 3600:.1f} h" if s >= 5400 else f"{s / 60:.0f} min" if s >= 90 else f"{s:.0f} s"
