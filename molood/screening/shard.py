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

Command line: ``molood shard count|extract|split`` and ``molood merge`` (:mod:`molood.cli.shard`);
the workflow's split jobs run ``molood shard extract``. The per-shard run summary of a merged
screen is :mod:`molood.screening.shard_summary`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import Iterator, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from molood._fs import atomic_path, write_text_atomic
from molood.exceptions import ShardMismatchError
from molood.io.formats import guard_reads
from molood.io.readers import count_rows, parquet_file

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
    batch of ``batch_rows`` rows is in memory at a time. A corrupt file raises
    :class:`~molood.exceptions.MoloodInputError` naming it.
    """
    pf = parquet_file(path)
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
    for batch in guard_reads(path, pf.iter_batches(
            batch_size=batch_rows, row_groups=groups,
            columns=list(columns) if columns is not None else None, use_threads=False)):
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
    schema = parquet_file(library).schema_arrow
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
    schema = parquet_file(library).schema_arrow
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
    schemas = [parquet_file(p).schema_arrow for p in paths]
    target = _merged_schema(paths, schemas, metadata)
    info = []
    total = 0
    with _atomic_parquet(out, target) as w:
        for p in paths:
            rows = _write_batches(w, iter_rows(p, batch_rows=batch_rows), target)
            info.append({"path": p, "rows": rows})
            total += rows
    return {"rows": total, "shards": info}
