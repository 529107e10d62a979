"""What a :func:`~molood.screening.engine.screen` run did: :class:`ScreenSummary`, the record the
function returns, the CLI prints as its one-line report and ``molood screen --json`` prints as
JSON; and the small wording helpers every summary uses (:func:`plural`, :func:`status_class`).
Standard library only, so that the command line can import it cheaply.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ScreenSummary", "plural", "status_class", "count_statuses"]


def plural(n: int, word: str, many: str | None = None) -> str:
    """``"1 row"``, ``"2 rows"``, ``"1,234 rows"``: a count with its noun in the right number
    (``many``: the plural when it is not ``word + "s"``)."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def status_class(status: object) -> str:
    """The kind of a row's status: ``"ok"``, or a non-ok status's reason without its detail
    (``"invalid_smiles: ..."`` -> ``"invalid_smiles"``; a null status -> ``"<null>"``)."""
    if status is None:
        return "<null>"
    s = str(status)
    return s.split(":", 1)[0].strip() or s


def count_statuses(statuses: Any, counts: dict[str, int]) -> int:
    """Add the rows of an Arrow string column ``statuses`` to ``counts`` by
    :func:`status_class`; returns how many are exactly ``"ok"`` (scored)."""
    import pyarrow.compute as pc

    ok = 0
    for item in pc.value_counts(statuses).to_pylist():
        key = status_class(item["values"])
        counts[key] = counts.get(key, 0) + item["counts"]
        ok += item["counts"] if item["values"] == "ok" else 0
    return ok


@dataclass(frozen=True, slots=True)
class ScreenSummary:
    """What :func:`~molood.screening.engine.screen` did. ``str(summary)`` is the one-line
    report the CLI prints; :meth:`to_json` what ``molood screen --json`` prints."""

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
    status_counts: dict[str, int] = field(default_factory=dict)
    """rows per :func:`status_class` (``ok``, ``empty``, ``invalid_smiles``, ...), most first;
    the workflow's summary JSON has the same field"""

    @property
    def rate(self) -> float:
        """Molecules per second processed by this call."""
        done = self.rows - self.resumed_rows
        return done / self.seconds if self.seconds > 0 else float("nan")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rate"] = self.rate
        return d

    def to_json(self) -> str:
        """The summary as one JSON object: every field, ``mol_per_s`` (the rate; the name the
        workflow's summary uses) and the counts named as in the workflow's summary JSON
        (``rows``, ``scored``, ``invalid``, ``flagged``, ``status_counts``). A non-finite
        number (no rate for 0 rows, an infinite threshold) is null: the output is strict JSON."""
        d = self.as_dict()
        d["mol_per_s"] = round(d.pop("rate"), 2)
        d["seconds"] = round(self.seconds, 4)
        d = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in d.items()}
        return json.dumps(d, indent=1)

    def __str__(self) -> str:
        resumed = f", {self.resumed_rows:,} resumed" if self.resumed_rows else ""
        return (f"{plural(self.rows, 'row')}: {self.scored:,} scored, {self.invalid:,} invalid, "
                f"{self.flagged:,} flagged OOD at fpr {self.fpr:g}{resumed} "
                f"in {self.seconds:.1f} s ({self.rate:,.0f} mol/s) -> {self.output}")
