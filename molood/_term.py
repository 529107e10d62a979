"""Whether progress can be drawn as a bar: the one rule screening and training follow.

A bar redrawn in place (tqdm) reads well on a terminal or in a notebook; written anywhere else
(stderr redirected to a file, a CI, Snakemake or SLURM log) it becomes a stream of
``\\r``-separated copies. There, progress is instead a plain log line every
:data:`PROGRESS_SECONDS` seconds. Standard library only.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

__all__ = ["interactive", "PROGRESS_SECONDS"]

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
