"""Split a Parquet library into row shards and merge screened shards back, streaming.

This is the data plumbing of the Snakemake workflow (``workflows/Snakefile``), kept here as
plain, tested Python so that it can be used without Snakemake as well.

- Shard ``i`` of a library of ``n`` rows cut at ``shard_rows`` holds rows
  ``[i * shard_rows, min((i + 1) * shard_rows, n))``; there are ``ceil(n / shard_rows)`` shards
  (one empty shard for an empty library, so that the pipeline still produces an output with the
  library's columns). The count comes from the Parquet footer (:func:`count_rows`), so a
  workflow knows it before reading any data.
- Nothing reads a whole file into memory: rows are streamed with
  ``ParquetFile.iter_batches`` over only the row groups that overlap the wanted range
  (:func:`iter_rows`), and written batch by batch.
- Every file is written atomically: to ``<path>.part`` next to ``path``, moved into place with
  ``os.replace`` only when complete, deleted on any error. A killed job never leaves a
  truncated file at ``path``.
- Shards keep the library's Arrow schema (types and metadata) exactly; :func:`merge` writes
  the shards in the order given, checks that they were screened with the same model and
  settings (the ``molood_*`` Parquet metadata must agree) and carries that metadata over.

Command line (the workflow's split jobs run ``extract``; ``python -m molood.screening.shard --help``)::

    python -m molood.screening.shard count   LIBRARY.parquet
    python -m molood.screening.shard extract LIBRARY.parquet --index I --shard-rows N -o SHARD.parquet
    python -m molood.screening.shard split   LIBRARY.parquet --shard-rows N -o OUTDIR
    python -m molood.screening.shard merge   SHARD0.parquet SHARD1.parquet ... -o MERGED.parquet \\
                                   [--summary SUMMARY.json] [--summary-tsv SUMMARY.tsv] \\
                                   [--benchmark B0.tsv ...] [--log L0.log ...] \\
                                   [--set-metadata molood_input=LIBRARY.parquet]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Iterator, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from molood._fs import atomic_path, write_text_atomic
from molood.exceptions import ShardMismatchError
from molood.io.readers import count_rows
from molood.screening.columns import IS_OOD_COLUMN, STATUS_COLUMN

__all__ = [
    "ShardMismatchError",
    "count_rows",
    "shard_count",
    "shard_bounds",
    "shard_name",
    "plan",
    "write_plan",
    "iter_rows",
    "extract_shard",
    "split",
    "merge",
    "summarize",
    "read_benchmark",
    "write_summary",
]

#: rows per Arrow batch when streaming (memory bound of split/merge, not a shard size)
DEFAULT_BATCH_ROWS = 65_536

#: metadata keys that may legitimately differ between shards of one screen (everything else
#: that starts with ``molood`` must be identical; differing keys not listed here are dropped
#: from the merged file rather than copied from one arbitrary shard)
_PER_SHARD_KEY_HINTS = ("input", "path", "rows", "time", "elapsed", "seconds", "date",
                        "started", "finished", "created", "host", "throughput", "workers",
                        "batch_size", "resumed")



# ====================================================================== planning
def shard_count(num_rows: int, shard_rows: int) -> int:
    """``ceil(num_rows / shard_rows)``, and 1 for an empty library."""
    _check_shard_rows(shard_rows)
    if num_rows < 0:
        raise ValueError(f"num_rows must be >= 0, got {num_rows}")
    return max(1, math.ceil(num_rows / shard_rows))


def shard_bounds(num_rows: int, shard_rows: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` row range of every shard (stop exclusive)."""
    return [(i * shard_rows, min((i + 1) * shard_rows, num_rows))
            for i in range(shard_count(num_rows, shard_rows))]


def shard_name(index: int, n_shards: int) -> str:
    """Zero-padded shard name (``shard-00003``) that sorts like the shard number."""
    if not 0 <= index < max(n_shards, 1):
        raise IndexError(f"shard {index} out of range for {n_shards} shards")
    width = max(5, len(str(max(n_shards - 1, 0))))
    return f"shard-{index:0{width}d}"


def plan(library: str | os.PathLike, shard_rows: int) -> dict:
    """``{"library", "rows", "shard_rows", "shards": [names], "bounds": [[start, stop]]}``."""
    n = count_rows(library)
    k = shard_count(n, shard_rows)
    return {"library": os.fspath(library), "rows": n, "shard_rows": shard_rows,
            "shards": [shard_name(i, k) for i in range(k)],
            "bounds": [list(b) for b in shard_bounds(n, shard_rows)]}


def write_plan(library: str | os.PathLike, shard_rows: int, out: str | os.PathLike) -> dict:
    """Write :func:`plan` as JSON to ``out`` (atomically) and return it."""
    p = plan(library, shard_rows)
    write_text_atomic(out, json.dumps(p, indent=1) + "\n", makedirs=True)
    return p


def _check_shard_rows(shard_rows: int) -> None:
    if isinstance(shard_rows, bool) or not isinstance(shard_rows, int) or shard_rows < 1:
        raise ValueError(f"shard_rows must be an integer >= 1, got {shard_rows!r}")


# ====================================================================== reading
def iter_rows(path: str | os.PathLike, start: int = 0, stop: int | None = None,
              batch_rows: int = DEFAULT_BATCH_ROWS, columns: Sequence[str] | None = None
              ) -> Iterator[pa.RecordBatch]:
    """Stream rows ``[start, stop)`` of a Parquet file as record batches, in order.

    Only the row groups overlapping the range are read (located from the footer); at most one
    batch of ``batch_rows`` rows is in memory at a time.
    """
    pf = pq.ParquetFile(os.fspath(path))
    md = pf.metadata
    n = md.num_rows
    stop = n if stop is None else min(stop, n)
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if start >= stop:
        return
    groups: list[int] = []
    first_row = None
    begin = 0
    for g in range(md.num_row_groups):
        rows = md.row_group(g).num_rows
        end = begin + rows
        if end > start and begin < stop and rows:
            if first_row is None:
                first_row = begin
            groups.append(g)
        begin = end
        if begin >= stop:
            break
    if not groups:
        return
    pos = first_row
    for batch in pf.iter_batches(batch_size=batch_rows, row_groups=groups,
                                 columns=list(columns) if columns is not None else None,
                                 use_threads=False):
        b_start, b_stop = pos, pos + batch.num_rows
        pos = b_stop
        if b_stop <= start:
            continue
        lo = max(start - b_start, 0)
        hi = min(stop, b_stop) - b_start
        if hi > lo:
            yield batch.slice(lo, hi - lo) if (lo or hi < batch.num_rows) else batch
        if pos >= stop:
            return


# ====================================================================== atomic writing
@contextlib.contextmanager
def _atomic_parquet(path: str | os.PathLike, schema: pa.Schema) -> Iterator[pq.ParquetWriter]:
    """ParquetWriter on ``<path>.part``, moved to ``path`` on success, deleted on error
    (:func:`molood._fs.atomic_path`)."""
    with atomic_path(path, makedirs=True) as part:
        writer = pq.ParquetWriter(part, schema)
        try:
            yield writer
        except BaseException:
            with contextlib.suppress(Exception):
                writer.close()
            raise
        writer.close()


def _write_batches(writer: pq.ParquetWriter, batches: Iterator[pa.RecordBatch],
                   schema: pa.Schema | None = None) -> int:
    rows = 0
    for b in batches:
        t = pa.Table.from_batches([b])
        if schema is not None and not t.schema.equals(schema, check_metadata=False):
            t = _cast(t, schema)
        writer.write_table(t)
        rows += b.num_rows
    return rows


def _cast(t: pa.Table, schema: pa.Schema) -> pa.Table:
    try:
        return t.select(schema.names).cast(schema.remove_metadata())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError) as exc:
        raise ShardMismatchError(f"cannot cast shard columns {t.schema} to {schema}: {exc}"
                                 ) from exc


# ====================================================================== split
def extract_shard(library: str | os.PathLike, index: int, shard_rows: int,
                  out: str | os.PathLike, batch_rows: int = DEFAULT_BATCH_ROWS) -> int:
    """Write shard ``index`` (rows ``[index*shard_rows, (index+1)*shard_rows)``) of
    ``library`` to ``out`` (atomically, with the library's schema); returns its row count.

    Reads only the row groups of that range, so shards can be extracted in parallel, each by
    its own job, without a pass over the whole file.
    """
    n = count_rows(library)
    n_shards = shard_count(n, shard_rows)
    if not 0 <= index < n_shards:
        raise IndexError(f"{os.fspath(library)}: shard {index} out of range: {n} rows in "
                         f"{n_shards} shards of {shard_rows}")
    start, stop = index * shard_rows, min((index + 1) * shard_rows, n)
    schema = pq.read_schema(os.fspath(library))
    with _atomic_parquet(out, schema) as w:
        rows = _write_batches(w, iter_rows(library, start, stop, min(batch_rows, shard_rows)),
                              schema)
    return rows


def split(library: str | os.PathLike, out_dir: str | os.PathLike, shard_rows: int,
          batch_rows: int = DEFAULT_BATCH_ROWS,
          names: Sequence[str | os.PathLike] | None = None) -> list[Path]:
    """Split ``library`` into shard files in one streaming pass; returns their paths in order.

    Files are ``<out_dir>/<shard_name(i, n)>.parquet`` unless ``names`` (one path per shard,
    relative to ``out_dir`` or absolute) is given. Each file is written atomically.
    """
    n = count_rows(library)
    n_shards = shard_count(n, shard_rows)
    out_dir = Path(out_dir)
    if names is None:
        paths = [out_dir / f"{shard_name(i, n_shards)}.parquet" for i in range(n_shards)]
    else:
        if len(names) != n_shards:
            raise ValueError(f"{len(names)} names for {n_shards} shards")
        paths = [out_dir / p for p in names]
    schema = pq.read_schema(os.fspath(library))
    batches = iter_rows(library, 0, n, min(batch_rows, shard_rows))
    carry: pa.RecordBatch | None = None
    for i, p in enumerate(paths):
        want = min(shard_rows, n - i * shard_rows)
        with _atomic_parquet(p, schema) as w:
            got = 0
            while got < want:
                if carry is None:
                    carry = next(batches)
                take = min(want - got, carry.num_rows)
                _write_batches(w, iter([carry.slice(0, take)]), schema)
                got += take
                carry = carry.slice(take) if take < carry.num_rows else None
    return paths


# ====================================================================== merge
def _shard_metadata(schema: pa.Schema) -> dict[bytes, bytes]:
    return dict(schema.metadata or {})


def _merged_metadata(paths: Sequence[str], schemas: Sequence[pa.Schema]) -> dict[bytes, bytes]:
    """Metadata of the merged file: the shards' common metadata.

    ``molood*`` keys that differ between shards raise :class:`ShardMismatchError` (shards
    screened with another model, fpr, threshold or molood version cannot form one screen),
    unless their name marks them as per-run information (input path, row counts, timings),
    which is dropped. The pandas schema key is taken from the first shard.
    """
    mds = [_shard_metadata(s) for s in schemas]
    first = mds[0]
    keys = list(first)
    for md in mds[1:]:
        keys += [k for k in md if k not in keys]
    out: dict[bytes, bytes] = {}
    for k in keys:
        values = [md.get(k) for md in mds]
        if all(v == values[0] for v in values):
            out[k] = values[0]
            continue
        name = k.decode("utf-8", "replace")
        if name == "pandas":
            if first.get(k) is not None:
                out[k] = first[k]
            continue
        if name.lower().startswith("molood") and not any(
                h in name.lower() for h in _PER_SHARD_KEY_HINTS):
            distinct = {}
            for p, v in zip(paths, values):
                distinct.setdefault(v, p)
            shown = "; ".join(f"{(v or b'<missing>').decode('utf-8', 'replace')[:80]!r} "
                              f"(e.g. {p})" for v, p in distinct.items())
            raise ShardMismatchError(
                f"shards disagree on metadata {name!r}: {shown}. They were screened with "
                f"different models or settings; delete the stale shard outputs and rerun")
    return out


def _merged_schema(paths: Sequence[str], schemas: Sequence[pa.Schema],
                   overrides: dict[str, str] | None = None) -> pa.Schema:
    first = schemas[0]
    for p, s in zip(paths[1:], schemas[1:]):
        if s.names != first.names:
            raise ShardMismatchError(f"{p}: columns {s.names} differ from {paths[0]}: "
                                     f"{first.names}")
    plain = [s.remove_metadata() for s in schemas]
    if all(s.equals(plain[0]) for s in plain[1:]):
        target = plain[0]
    else:  # e.g. an all-null column in one shard, int64 vs double (nulls) in another
        try:
            target = pa.unify_schemas(plain, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ShardMismatchError(f"shard column types cannot be reconciled: {exc}") from exc
    md = _merged_metadata(paths, schemas)
    for k, v in (overrides or {}).items():
        md[str(k).encode()] = str(v).encode()
    return target.with_metadata(md) if md else target


def merge(shards: Sequence[str | os.PathLike], out: str | os.PathLike,
          batch_rows: int = DEFAULT_BATCH_ROWS, metadata: dict[str, str] | None = None) -> dict:
    """Concatenate Parquet shards, in the order given, into ``out`` (streaming, atomic).

    The merged file has the shards' columns and their common key-value metadata; per-run keys
    that differ between shards (``molood_input``: each shard's file name) are dropped unless
    ``metadata`` sets them (the workflow sets ``molood_input`` to the library's file name, as a
    single ``molood screen`` of the library would).

    Returns ``{"rows": total, "shards": [{"path", "rows"}, ...]}``. Raises
    :class:`ShardMismatchError` if the shards' columns differ or their ``molood`` metadata
    (model hash, fpr, threshold, version) disagree; nothing is written then.
    """
    paths = [os.fspath(p) for p in shards]
    if not paths:
        raise ValueError("no shards to merge")
    schemas = [pq.read_schema(p) for p in paths]
    target = _merged_schema(paths, schemas, metadata)
    info = []
    total = 0
    with _atomic_parquet(out, target) as w:
        for p in paths:
            rows = _write_batches(w, iter_rows(p, batch_rows=batch_rows), target)
            info.append({"path": p, "rows": rows})
            total += rows
    return {"rows": total, "shards": info}


# ====================================================================== summary
def read_benchmark(path: str | os.PathLike) -> float | None:
    """Wall-clock seconds from a Snakemake ``benchmark:`` TSV (column ``s``), if readable."""
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        secs = [float(r["s"]) for r in rows if r.get("s") not in (None, "", "NA", "-")]
        return sum(secs) / len(secs) if secs else None
    except (OSError, KeyError, ValueError):
        return None


_LOG_SUMMARY = re.compile(r"molood: ([\d,]+) rows: .* in ([\d.]+) s \(([\d,.]+|nan) mol/s\)")


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
              logs: Sequence[str | os.PathLike | None] | None = None) -> dict:
    """Counts of screened shards, streaming only the status and flag columns.

    Returns ``{"rows", "scored", "invalid", "flagged", "status_counts", "shards": [...],
    "metadata"}``; each shard entry has ``shard``, ``path``, ``rows``, ``scored``, ``invalid``,
    ``flagged``, ``seconds`` (the job's wall time, e.g. from its Snakemake benchmark file) and
    ``rows_per_s`` (``rows / seconds``), and, when ``logs`` (the ``molood screen`` log per
    shard) are given, ``screen_seconds`` and ``mol_per_s`` from the log's summary line; None
    where not known. ``scored`` counts ``molood_status == "ok"``, ``invalid`` everything else.
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
                st = b.column(cols.index(STATUS_COLUMN))
                for v in st.to_pylist():
                    key = "ok" if v == "ok" else _reason(v)
                    status_counts[key] = status_counts.get(key, 0) + 1
                    scored += v == "ok"
            if IS_OOD_COLUMN in cols:
                fl = b.column(cols.index(IS_OOD_COLUMN))
                flagged += sum(1 for v in fl.to_pylist() if v is True)
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
    if paths:
        md = {k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
              for k, v in _shard_metadata(pq.read_schema(paths[0])).items()
              if k != b"pandas"}
    secs = [s["seconds"] for s in shards if s["seconds"] is not None]
    return {**total,
            "shard_count": len(shards),
            "screen_seconds_total": round(sum(secs), 4) if secs else None,
            "rows_per_s_per_shard": (round(total["rows"] / sum(secs), 2)
                                     if secs and sum(secs) > 0 and len(secs) == len(shards)
                                     else None),
            "status_counts": dict(sorted(status_counts.items(), key=lambda kv: -kv[1])),
            "metadata": md,
            "shards": shards}


def _reason(status: object) -> str:
    """Status class of a non-ok row: ``invalid_smiles: ...`` -> ``invalid_smiles``."""
    if status is None:
        return "<null>"
    s = str(status)
    return s.split(":", 1)[0].strip() or s


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


# ====================================================================== command line
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m molood.screening.shard", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("count", help="rows and shard count of a Parquet library")
    p.add_argument("library")
    p.add_argument("--shard-rows", type=int)
    p = sub.add_parser("extract", help="write one shard of a library")
    p.add_argument("library")
    p.add_argument("--index", type=int, required=True)
    p.add_argument("--shard-rows", type=int, required=True)
    p.add_argument("-o", "--output", required=True)
    p = sub.add_parser("split", help="write all shards of a library in one pass")
    p.add_argument("library")
    p.add_argument("--shard-rows", type=int, required=True)
    p.add_argument("-o", "--out-dir", required=True)
    p = sub.add_parser("merge", help="concatenate screened shards (in the order given)")
    p.add_argument("shards", nargs="+")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--summary", help="summary JSON path")
    p.add_argument("--summary-tsv", help="per-shard summary TSV path")
    p.add_argument("--benchmark", nargs="*", help="Snakemake benchmark TSV per shard")
    p.add_argument("--log", nargs="*", help="`molood screen` log per shard")
    p.add_argument("--set-metadata", action="append", default=[], metavar="KEY=VALUE",
                   help="set a Parquet metadata key of the merged file (repeatable)")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    if a.cmd == "count":
        n = count_rows(a.library)
        out = {"rows": n}
        if a.shard_rows:
            out["shards"] = shard_count(n, a.shard_rows)
        print(json.dumps(out))
    elif a.cmd == "extract":
        rows = extract_shard(a.library, a.index, a.shard_rows, a.output)
        print(f"shard {a.index}: {rows} rows -> {a.output} "
              f"({time.perf_counter() - t0:.2f} s)", file=sys.stderr)
    elif a.cmd == "split":
        paths = split(a.library, a.out_dir, a.shard_rows)
        print(f"{len(paths)} shards -> {a.out_dir}", file=sys.stderr)
    else:
        if a.benchmark and len(a.benchmark) != len(a.shards):
            ap.error(f"{len(a.benchmark)} benchmark files for {len(a.shards)} shards")
        if a.log and len(a.log) != len(a.shards):
            ap.error(f"{len(a.log)} log files for {len(a.shards)} shards")
        overrides = {}
        for kv in a.set_metadata:
            if "=" not in kv:
                ap.error(f"--set-metadata wants KEY=VALUE, got {kv!r}")
            k, v = kv.split("=", 1)
            overrides[k] = v
        res = merge(a.shards, a.output, metadata=overrides)
        print(f"merged {len(a.shards)} shards, {res['rows']} rows -> {a.output} "
              f"({time.perf_counter() - t0:.2f} s)", file=sys.stderr)
        if a.summary or a.summary_tsv:
            secs = [read_benchmark(b) for b in a.benchmark] if a.benchmark else None
            write_summary(summarize(a.shards, secs, logs=a.log or None), a.summary,
                          a.summary_tsv)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
