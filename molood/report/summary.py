"""One streaming pass over a screened file: counts, a fixed-bin score histogram, the top N rows
by score and the invalid rows grouped by status.

Memory does not grow with the file: rows are read in Arrow batches of the columns needed
(Parquet column projection, Arrow's streaming CSV reader; SD files through
:func:`molood.io.readers.read_batches`), the histogram has fixed bins (:class:`ScoreHistogram`),
the top N is a heap of N rows and each status group keeps its first few row numbers. Row numbers
are 0-based data rows, as ``molood_status`` reasons and pandas count them. numpy + pyarrow.
"""

from __future__ import annotations

import heapq
import os
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import pyarrow as pa

from molood.screening.columns import IS_OOD_COLUMN, PVALUE_COLUMN, SCORE_COLUMN, STATUS_COLUMN
from molood.screening.summary import status_class

__all__ = ["ScoreHistogram", "TopRow", "StatusGroup", "ScreenedSummary", "summarize",
           "FIRST_ROWS"]

FIRST_ROWS = 5
"""Row numbers kept per invalid-status group."""

_BATCH = 65_536


class ScoreHistogram:
    """Counts of scores in fixed bins of ``width`` from ``lo`` (25,600 bins of 0.01 over
    [-64, 192) by default), with under/overflow counts and the exact min and max; coarsened
    for plotting (:meth:`coarse`) and for quantiles (:meth:`quantile`)."""

    def __init__(self, lo: float = -64.0, width: float = 0.01, bins: int = 25_600) -> None:
        self.lo, self.width = float(lo), float(width)
        self.counts = np.zeros(int(bins), dtype=np.int64)
        self.under = self.over = 0
        self.n = 0
        self.min, self.max = np.inf, -np.inf

    def add(self, values: np.ndarray) -> None:
        """Count finite ``values``."""
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        if not v.size:
            return
        self.n += v.size
        self.min, self.max = min(self.min, float(v.min())), max(self.max, float(v.max()))
        idx = np.floor((v - self.lo) / self.width).astype(np.int64)
        self.under += int((idx < 0).sum())
        self.over += int((idx >= self.counts.size).sum())
        inside = idx[(idx >= 0) & (idx < self.counts.size)]
        self.counts += np.bincount(inside, minlength=self.counts.size)

    def quantile(self, q: float) -> float:
        """Approximate quantile (to a bin width; the exact min/max at the ends)."""
        if self.n == 0:
            return float("nan")
        target = q * self.n
        if target <= self.under:
            return self.min
        cum = self.under + np.cumsum(self.counts)
        i = int(np.searchsorted(cum, target))
        if i >= self.counts.size:
            return self.max
        return float(np.clip(self.lo + (i + 1) * self.width, self.min, self.max))

    def coarse(self, lo: float, hi: float, bins: int) -> tuple[np.ndarray, np.ndarray]:
        """(edges [k + 1], counts [k]) over [lo, hi) in about ``bins`` bins, each a whole number
        of fine bins; scores outside [lo, hi) are not counted."""
        a = max(0, int(np.floor((lo - self.lo) / self.width)))
        b = min(self.counts.size, int(np.ceil((hi - self.lo) / self.width)))
        if b <= a:
            return np.array([lo, hi]), np.zeros(1, dtype=np.int64)
        step = max(1, (b - a) // max(1, bins))
        b = a + (b - a + step - 1) // step * step
        fine = np.zeros(b - a, dtype=np.int64)
        have = self.counts[a:min(b, self.counts.size)]
        fine[:have.size] = have
        counts = fine.reshape(-1, step).sum(axis=1)
        edges = self.lo + self.width * (a + step * np.arange(counts.size + 1))
        return edges, counts


@dataclass(frozen=True)
class TopRow:
    """One of the top-N rows: row number, score, p-value, flag, status, the molecule (SMILES,
    or a mol block for SD files) and its ID and name (None where the file has none)."""

    row: int
    score: float
    pvalue: float
    is_ood: bool | None
    molecule: str | None
    kind: str
    label: str | None
    name: str | None


@dataclass
class StatusGroup:
    """Invalid rows of one status kind (``invalid_smiles``, ``empty``, ``too_large``, ...):
    how many, the first :data:`FIRST_ROWS` row numbers and the first full message."""

    kind: str
    count: int = 0
    rows: list[int] = field(default_factory=list)
    example: str = ""


@dataclass
class ScreenedSummary:
    """What :func:`summarize` found in a screened file."""

    source: str
    rows: int = 0
    scored: int = 0
    flagged: int = 0
    histogram: ScoreHistogram = field(default_factory=ScoreHistogram)
    top: list[TopRow] = field(default_factory=list)
    invalid: dict[str, StatusGroup] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    smiles_col: str | None = None
    id_col: str | None = None
    name_col: str | None = None
    seconds: float = 0.0

    @property
    def n_invalid(self) -> int:
        return self.rows - self.scored

    @property
    def flag_rate(self) -> float:
        """Flagged share of the scored rows."""
        return self.flagged / self.scored if self.scored else float("nan")


def _numpy(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    import pyarrow.compute as pc

    if not pa.types.is_floating(col.type):
        col = pc.cast(col, pa.float64(), safe=False)
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)


class _Accumulator:
    def __init__(self, summary: ScreenedSummary, top: int) -> None:
        self.s, self.n_top = summary, int(top)
        self.heap: list[tuple[float, int, TopRow]] = []

    def add(self, b: pa.RecordBatch | pa.Table, first_row: int, kind: str) -> None:
        import pyarrow.compute as pc

        s = self.s
        names = b.schema.names
        score = _numpy(b.column(names.index(SCORE_COLUMN)))
        ok = np.isfinite(score)
        s.rows += len(score)
        s.scored += int(ok.sum())
        if IS_OOD_COLUMN in names:
            flags = b.column(names.index(IS_OOD_COLUMN))
            if not pa.types.is_boolean(flags.type):
                flags = pc.equal(pc.utf8_lower(pc.cast(flags, pa.string())), "true")
            s.flagged += int(pc.sum(flags).as_py() or 0)
        s.histogram.add(score[ok])
        self._top(b, score, ok, first_row, kind)
        if not ok.all() and STATUS_COLUMN in names:
            bad = np.flatnonzero(~ok)
            texts = b.column(names.index(STATUS_COLUMN)).take(pa.array(bad)).to_pylist()
            for r, text in zip(bad.tolist(), texts):
                text = text or "not scored"
                key = status_class(text)
                g = s.invalid.setdefault(key, StatusGroup(key, example=text))
                g.count += 1
                if len(g.rows) < FIRST_ROWS:
                    g.rows.append(first_row + r)

    def _top(self, b: Any, score: np.ndarray, ok: np.ndarray, first_row: int, kind: str
             ) -> None:
        if self.n_top <= 0:
            return
        cand = np.flatnonzero(ok)
        if len(self.heap) == self.n_top:
            cand = cand[score[cand] >= self.heap[0][0]]
        if cand.size > self.n_top:
            cand = cand[np.argpartition(-score[cand], self.n_top - 1)[:self.n_top]]
        if not cand.size:
            return
        cand = np.sort(cand)
        names = b.schema.names
        take = pa.array(cand)
        col = lambda c: (b.column(names.index(c)).take(take).to_pylist()  # noqa: E731
                         if c and c in names else [None] * cand.size)
        pv = _numpy(b.column(names.index(PVALUE_COLUMN)).take(take)) \
            if PVALUE_COLUMN in names else np.full(cand.size, np.nan)
        flags = col(IS_OOD_COLUMN)
        mols, ids, nms = col(self.s.smiles_col), col(self.s.id_col), col(self.s.name_col)
        for j, r in enumerate(cand.tolist()):
            f = flags[j]
            flag = f if isinstance(f, bool) or f is None else str(f).lower() == "true"
            row = TopRow(first_row + r, float(score[r]), float(pv[j]), flag, mols[j], kind,
                         None if ids[j] is None else str(ids[j]),
                         None if nms[j] is None else str(nms[j]))
            item = (row.score, -row.row, row)
            if len(self.heap) < self.n_top:
                heapq.heappush(self.heap, item)
            elif item[:2] > self.heap[0][:2]:
                heapq.heapreplace(self.heap, item)

    def finish(self) -> None:
        self.s.top = [t for _, _, t in sorted(self.heap, key=lambda x: (-x[0], -x[1]))]


def summarize(batches: Iterator[tuple[pa.RecordBatch | pa.Table, str]], source: str, *,
              top: int = 50, smiles_col: str | None = None, id_col: str | None = None,
              name_col: str | None = None, metadata: dict[str, str] | None = None
              ) -> ScreenedSummary:
    """Summarize a stream of ``(Arrow batch, kind)`` of screened rows (in row order; ``kind``
    is ``"smiles"`` or ``"molblock"``, what ``smiles_col`` holds). See :mod:`.source` for the
    streams of files and frames."""
    t0 = time.perf_counter()
    s = ScreenedSummary(os.fspath(source), smiles_col=smiles_col, id_col=id_col,
                        name_col=name_col, metadata=dict(metadata or {}))
    acc = _Accumulator(s, top)
    row = 0
    for b, kind in batches:
        acc.add(b, row, kind)
        row += b.num_rows
    acc.finish()
    s.seconds = time.perf_counter() - t0
    return s
