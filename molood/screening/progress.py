"""Progress of a :func:`~molood.screening.engine.screen` run, in the form its reader can use.

On a terminal (or in a Jupyter kernel) a tqdm bar on stderr, redrawn in place. Anywhere else
(stderr redirected to a file, a CI log, a Snakemake or SLURM log) a redrawn bar is a stream of
``\\r``-separated copies with the last one doubled at the end; there progress is instead a plain
log line every :data:`molood._term.PROGRESS_SECONDS` seconds (``molood: screened
20,000/100,000 rows (20%), 850 mol/s, 3 flagged, 1 invalid``), through :mod:`logging` so that
``molood --log-file`` gets it too (straight to stderr when logging is not configured to show
INFO messages). No line is written at the end: the run's summary follows.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO

from molood import _term
from molood.screening.summary import plural

__all__ = ["Progress"]

logger = logging.getLogger(__name__)

class Progress:
    """Running counts of a screen, shown as a bar or as periodic lines (module docstring).

    ``update(rows, flagged, invalid)`` takes the totals so far; ``close()`` ends the bar.
    Disabled (``enabled=False``), it does nothing.
    """

    def __init__(self, enabled: bool, total: int | None, stream: TextIO | None = None) -> None:
        self.total = total
        self.bar: Any = None
        self.plain = False
        self._t0 = self._last = time.monotonic()
        self._rows = 0
        if not enabled:
            return
        stream = stream or sys.stderr
        if _term.interactive(stream):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=0, unit="mol", unit_scale=True, file=stream,
                            dynamic_ncols=True, smoothing=0.05, desc="molood screen")
        else:
            self.plain = True

    def update(self, rows: int, flagged: int, invalid: int) -> None:
        """The counts after another part of the output was written."""
        new, self._rows = rows - self._rows, rows
        if self.bar is not None:
            self.bar.set_postfix(flagged=flagged, invalid=invalid, refresh=False)
            self.bar.update(new)
        elif self.plain:
            now = time.monotonic()
            if now - self._last >= _term.PROGRESS_SECONDS:
                self._last = now
                self._line(rows, flagged, invalid, now - self._t0)

    def _line(self, rows: int, flagged: int, invalid: int, seconds: float) -> None:
        done = plural(rows, "row")
        if self.total:
            done = f"{rows:,}/{plural(self.total, 'row')} ({100 * rows / self.total:.0f}%)"
        rate = f", {rows / seconds:,.0f} mol/s" if seconds > 0 else ""
        text = f"screened {done}{rate}, {flagged:,} flagged, {invalid:,} invalid"
        if logger.hasHandlers() and logger.isEnabledFor(logging.INFO):
            logger.info(text)
        else:  # logging not configured for it (a script): progress was asked for, say it
            print(f"molood: {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        """End the bar (the plain form writes nothing more: the summary follows)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
