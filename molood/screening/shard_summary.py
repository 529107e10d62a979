"""The run summary of a screen spread over shards: rows, scored, invalid and flagged per shard
and in total, with each shard's wall time (Snakemake benchmark TSV or the ``molood screen``
log), written as JSON and TSV by the workflow's merge step (``molood merge --summary``).
"""

from __future__ import annotations

import csv
import json
import os
import re
from typing import Sequence

import pyarrow.compute as pc
import pyarrow.parquet as pq

from molood._fs import write_text_atomic
from molood.screening.columns import IS_OOD_COLUMN, STATUS_COLUMN
from molood.screening.shard import DEFAULT_BATCH_ROWS, iter_rows
from molood.screening.summary import count_statuses

__all__ = ["summarize", "read_benchmark", "write_summary"]


def read_benchmark(path: str | os.PathLike) -> float | None:
    """Wall-clock seconds from a Snakemake ``benchmark:`` TSV (column ``s``), if readable."""
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        secs = [float(r["s"]) for r in rows if r.get("s") not in (None, "", "NA", "-")]
        return sum(secs) / len(secs) if secs else None
    except (OSError, KeyError, ValueError):
        return None


_LOG_SUMMARY = re.compile(r"molood: ([\d,]+) rows?: .* in ([\d.]+) s \(([\d,.]+|nan) mol/s\)")


def _read_log(path: str | os.PathLike) -> tuple[float | None, float | None]:
    """(seconds, mol/s) from the summary line `molood screen` writes to its log, if any."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None, None
    found = _LOG_SUMMARY.findall(text)
    if not found:
        return None, None
    _, sec, rate = found[-1]
    try:
        return float(sec), float(rate.replace(",", ""))
    except ValueError:
        return float(sec), None


def summarize(screened: Sequence[str | os.PathLike],
              seconds: Sequence[float | None] | None = None,
              batch_rows: int = DEFAULT_BATCH_ROWS,
              logs: Sequence[str | os.PathLike | None] | None = None, *,
              library: str | os.PathLike | None = None,
              merged: str | os.PathLike | None = None) -> dict:
    """Counts of screened shards, streaming only the status and flag columns.

    Returns ``{"library", "rows", "scored", "invalid", "flagged", "status_counts", "shards":
    [...], "metadata"}``. ``library`` is the screened library (the shards' source; None if not
    given). ``metadata`` is the key-value metadata of the ``merged`` output when given (the
    workflow's names the library in ``molood_input``, as one ``molood screen`` of the library
    would), else the first shard's (which names that shard). Each shard entry has ``shard``,
    ``path``, ``rows``, ``scored``, ``invalid``, ``flagged``, ``seconds`` (the job's wall time, e.g.
    from its Snakemake benchmark file) and ``rows_per_s`` (``rows / seconds``), and, when ``logs``
    (the ``molood screen`` log per shard) are given, ``screen_seconds`` and ``mol_per_s`` from the
    log's summary line; None where not known. ``scored`` counts ``molood_status == "ok"``,
    ``invalid`` everything else.
    """
    paths = [os.fspath(p) for p in screened]
    if seconds is not None and len(seconds) != len(paths):
        raise ValueError(f"{len(seconds)} timings for {len(paths)} shards")
    if logs is not None and len(logs) != len(paths):
        raise ValueError(f"{len(logs)} logs for {len(paths)} shards")
    total = {"rows": 0, "scored": 0, "invalid": 0, "flagged": 0}
    status_counts: dict[str, int] = {}
    shards = []
    for i, p in enumerate(paths):
        names = pq.read_schema(p).names
        cols = [c for c in (STATUS_COLUMN, IS_OOD_COLUMN) if c in names]
        rows = scored = flagged = 0
        for b in iter_rows(p, batch_rows=batch_rows, columns=cols or None):
            rows += b.num_rows
            if STATUS_COLUMN in cols:
                scored += count_statuses(b.column(cols.index(STATUS_COLUMN)), status_counts)
            if IS_OOD_COLUMN in cols:
                flagged += int(pc.sum(b.column(cols.index(IS_OOD_COLUMN))).as_py() or 0)
        sec = seconds[i] if seconds is not None else None
        entry = {"shard": i, "path": p, "rows": rows, "scored": scored,
                 "invalid": rows - scored, "flagged": flagged,
                 "seconds": None if sec is None else round(float(sec), 4),
                 "rows_per_s": (round(rows / sec, 2) if sec else None)}
        if logs is not None:
            log_sec, rate = _read_log(logs[i]) if logs[i] else (None, None)
            entry["screen_seconds"] = log_sec
            entry["mol_per_s"] = rate
            entry["log"] = None if logs[i] is None else os.fspath(logs[i])
        shards.append(entry)
        for k in total:
            total[k] += entry[k]
    md = {}
    source = merged if merged is not None else (paths[0] if paths else None)
    if source is not None:
        md = {k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
              for k, v in (pq.read_schema(source).metadata or {}).items()
              if k != b"pandas"}
    secs = [s["seconds"] for s in shards if s["seconds"] is not None]
    return {"library": None if library is None else os.fspath(library),
            **total,
            "shard_count": len(shards),
            "screen_seconds_total": round(sum(secs), 4) if secs else None,
            "rows_per_s_per_shard": (round(total["rows"] / sum(secs), 2)
                                     if secs and sum(secs) > 0 and len(secs) == len(shards)
                                     else None),
            "status_counts": dict(sorted(status_counts.items(), key=lambda kv: -kv[1])),
            "metadata": md,
            "shards": shards}


def write_summary(summary: dict, json_path: str | os.PathLike | None = None,
                  tsv_path: str | os.PathLike | None = None) -> None:
    """Write the summary as JSON and/or a per-shard TSV (plus a ``total`` line), atomically."""
    if json_path is not None:
        write_text_atomic(json_path, json.dumps(summary, indent=2) + "\n", makedirs=True)
    if tsv_path is not None:
        cols = ["shard", "rows", "scored", "invalid", "flagged", "seconds", "rows_per_s"]
        if summary["shards"] and "mol_per_s" in summary["shards"][0]:
            cols += ["screen_seconds", "mol_per_s"]
        cols.append("path")
        lines = ["\t".join(cols)]
        for s in summary["shards"]:
            lines.append("\t".join("" if s[c] is None else str(s[c]) for c in cols))
        tot = {**{c: summary.get(c) for c in cols}, "shard": "total", "path": "",
               "screen_seconds": None, "mol_per_s": None,
               "seconds": summary.get("screen_seconds_total"),
               "rows_per_s": summary.get("rows_per_s_per_shard")}
        lines.append("\t".join("" if tot[c] is None else str(tot[c]) for c in cols))
        write_text_atomic(tsv_path, "\n".join(lines) + "\n", makedirs=True)
