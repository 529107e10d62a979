"""What a :func:`~molood.screening.engine.screen` run did: :class:`ScreenSummary`, the record the
function returns and the CLI prints as its one-line report."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ScreenSummary"]


@dataclass(frozen=True, slots=True)
class ScreenSummary:
    """What :func:`~molood.screening.engine.screen` did. ``str(summary)`` is the one-line
    report the CLI prints."""

    input: str
    output: str
    rows: int
    """input rows written to the output (all of them)"""
    scored: int
    """rows with a score (``molood_status == "ok"``)"""
    invalid: int
    """rows that could not be scored"""
    flagged: int
    """rows with ``molood_is_ood`` true"""
    seconds: float
    """wall time of this call (a resumed run counts only its own time)"""
    resumed_rows: int
    """rows taken from an interrupted run's finished chunks"""
    fpr: float
    """the false-positive rate the flags were set at (the model's default unless one was given)"""
    threshold: float
    model_path: str
    model_sha256: str
    workers: int
    batch_size: int

    @property
    def rate(self) -> float:
        """Molecules per second processed by this call."""
        done = self.rows - self.resumed_rows
        return done / self.seconds if self.seconds > 0 else float("nan")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rate"] = self.rate
        return d

    def __str__(self) -> str:
        resumed = f", {self.resumed_rows:,} resumed" if self.resumed_rows else ""
        return (f"{self.rows:,} rows: {self.scored:,} scored, {self.invalid:,} invalid, "
                f"{self.flagged:,} flagged OOD at fpr {self.fpr:g}{resumed} "
                f"in {self.seconds:.1f} s ({self.rate:,.0f} mol/s) -> {self.output}")
