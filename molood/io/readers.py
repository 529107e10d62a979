"""Streaming readers for screening libraries.

Readers never load a whole file: Parquet is read with ``ParquetFile.iter_batches``, CSV with
pyarrow's streaming CSV reader, SMILES files and SD files line by line (``.gz`` transparently;
:mod:`molood.io.text`). Every source row becomes exactly one row of exactly one
:class:`~molood.io.batch.MolBatch`, in order, whatever its content: an empty SMILES cell, an
unparseable SMILES and a broken SD record all stay rows and get an error reason when parsed
(``"empty"``, ``"invalid_smiles: ..."``, ``"sdf_parse_error: ..."``).

A damaged file is not a row-level problem: a truncated or corrupt ``.gz`` stream or a corrupt
Parquet file raises :class:`~molood.exceptions.MoloodInputError` naming the file and what is
wrong (:func:`~molood.io.formats.read_errors`), whether it is found when the file is opened or
half-way through it. So does an empty CSV/TSV file (0 bytes: no header line, so no columns and
no SMILES column); a header without rows is a valid library of no rows.

:func:`csv_columns`/:func:`csv_header` (a table's header), :func:`parquet_file` (a Parquet
file's footer) and :func:`count_rows` answer what a caller needs to know of a file before reading
it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterable, Iterator

import pyarrow as pa

from molood.exceptions import MoloodInputError
from molood.io.batch import MolBatch, make_batch
from molood.io.formats import (
    Format,
    delimiter,
    detect_format,
    find_smiles_column,
    guard_reads,
    open_binary,
    read_errors,
)
from molood.io.text import read_sdf, read_smi

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow.parquet as pq

__all__ = [
    "MolBatch",
    "read_batches",
    "csv_columns",
    "csv_header",
    "parquet_file",
    "count_rows",
]

_CSV_BLOCK_SIZE = 1 << 22  # bytes per Arrow CSV block; types are inferred from the first


def read_batches(path: str | os.PathLike, smiles_col: str | None = None,
                 batch_size: int = 10_000, start_row: int = 0, *,
                 infer_types: bool = True) -> Iterator[MolBatch]:
    """Stream a library as :class:`MolBatch` es of ``batch_size`` rows (the last may be short).

    Parameters
    ----------
    path : str or PathLike
        ``.parquet``/``.pq``, ``.csv``/``.tsv`` (optionally ``.gz``), ``.smi`` (``SMILES [name]``
        per line; optional header line starting with ``smiles``), ``.sdf``/``.sd`` (optionally
        ``.gz``).
    smiles_col : str, optional
        SMILES column of a table; default auto-detect (see :func:`find_smiles_column`).
    batch_size : int
        Rows per batch.
    start_row : int
        Skip the first ``start_row`` data rows (resume). Parquet skips whole row groups from the
        footer metadata; CSV lets the Arrow reader skip lines; SMI/SDF skip records while
        scanning. ``row_index`` stays the absolute source row number.
    infer_types : bool
        CSV only: infer column types from the first block (default). ``False`` reads every
        column as text, which never fails on a column whose values change type further down.

    Raises
    ------
    MoloodInputError
        Unknown extension, missing SMILES column (the message lists the columns), CSV column
        whose type changes after the first block, an empty (0-byte) CSV/TSV file, a damaged
        file (truncated/corrupt ``.gz`` data, corrupt Parquet), when opened or when reached.

    A CSV/TSV file with a header and no rows, an empty SMILES file and an SD file without
    records give no batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if start_row < 0:
        raise ValueError(f"start_row must be >= 0, got {start_row}")
    fmt = detect_format(path)
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    with read_errors(path):
        if fmt == "parquet":
            batches = _read_parquet(path, smiles_col, batch_size, start_row)
        elif fmt in ("csv", "tsv"):
            batches = _read_csv(path, fmt, smiles_col, batch_size, start_row, infer_types)
        elif fmt == "smi":
            batches = read_smi(path, batch_size, start_row)
        else:
            batches = read_sdf(path, batch_size, start_row)
    return guard_reads(path, batches)


def count_rows(path: str | os.PathLike, *, exact: bool = True) -> int:
    """Number of data rows of a library file: the rows :func:`read_batches` yields.

    Parquet: from the footer, exact, without reading any data (what a sharded workflow plans
    with). Other formats take one pass over the file: with ``exact`` (default) through the
    readers themselves, so quoted newlines, blank lines, header lines and SD records count as
    they do when reading; with ``exact=False`` CSV/TSV/SMILES files get a fast newline count
    instead, an estimate for progress bars (a quoted newline or a blank line counts as a row).
    An empty CSV/TSV file counts 0 rows (reading it is an error: it has no header). A damaged
    file raises :class:`MoloodInputError`.
    """
    fmt = detect_format(path)
    path = os.fspath(path)
    if fmt == "parquet":
        return parquet_file(path).metadata.num_rows
    with read_errors(path):
        if fmt in ("csv", "tsv"):
            if not exact:
                return max(_count_lines(path) - 1, 0)  # minus the header
            names = csv_columns(path, fmt)
            if not names:
                return 0
            first = {names[0]: pa.string()}  # one column, as text: nothing to convert
            return sum(b.num_rows for b in _csv_stream(path, fmt, first, include=[names[0]]))
        if fmt == "smi" and not exact:
            return _count_lines(path)
        return sum(len(b) for b in read_batches(path, batch_size=1 << 16))


def _count_lines(path: str) -> int:
    """Newlines in a (possibly gzipped) file, plus one for a last line without its newline."""
    n, last = 0, b"\n"
    with open_binary(path) as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")


def csv_columns(path: str | os.PathLike, fmt: Format = "csv") -> list[str] | None:
    """Column names of a CSV (``fmt="tsv"``: TSV) file from its header, reading one small
    block; None for an empty file. Raises MoloodInputError if it is not readable as CSV."""
    import pyarrow.csv as pacsv

    path = os.fspath(path)
    try:
        with read_errors(path):
            probe = pacsv.open_csv(
                path, parse_options=pacsv.ParseOptions(delimiter=delimiter(fmt)),
                read_options=pacsv.ReadOptions(block_size=1 << 16))
    except MoloodInputError as exc:
        cause = exc.__cause__
        if isinstance(cause, pa.ArrowInvalid) and (
                "Empty CSV file" in str(cause) or os.path.getsize(path) == 0):
            return None
        if isinstance(cause, pa.ArrowInvalid):
            raise MoloodInputError(f"{path}: cannot read as CSV: {cause}") from cause
        raise
    names = probe.schema.names
    probe.close()
    return names


def csv_header(path: str | os.PathLike, fmt: Format = "csv") -> list[str]:
    """:func:`csv_columns` of a file that must have them: an empty (0-byte) CSV/TSV file has
    no header line, so no columns to find a SMILES column in, and raises MoloodInputError."""
    names = csv_columns(path, fmt)
    if names is None:
        raise MoloodInputError(
            f"{os.fspath(path)}: the file is empty: a {fmt.upper()} file needs a header line "
            f"naming its columns (a header with no rows is a valid, empty library)")
    return names


def parquet_file(path: str | os.PathLike) -> "pq.ParquetFile":
    """The opened Parquet file (its footer read: schema, row groups, row count); a corrupt or
    truncated file raises :class:`MoloodInputError` naming it."""
    import pyarrow.parquet as pq

    with read_errors(path):
        return pq.ParquetFile(os.fspath(path))


# ---------------------------------------------------------------------- tables (parquet/csv)
def _rebatch(tables: Iterable[pa.Table | pa.RecordBatch], batch_size: int
             ) -> Iterator[pa.Table]:
    """Re-cut a stream of Arrow batches into tables of exactly batch_size rows (last short)."""
    pending: list[pa.Table] = []
    n = 0
    for t in tables:
        if isinstance(t, pa.RecordBatch):
            t = pa.Table.from_batches([t])
        while t.num_rows:
            take = min(batch_size - n, t.num_rows)
            pending.append(t.slice(0, take))
            n += take
            t = t.slice(take)
            if n == batch_size:
                yield pa.concat_tables(pending)
                pending, n = [], 0
    if n:
        yield pa.concat_tables(pending)


def _table_batches(tables: Iterable[pa.Table], smiles_col: str, first_row: int
                   ) -> Iterator[MolBatch]:
    row = first_row
    for t in tables:
        row += t.num_rows
        col = t.column(smiles_col)
        if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
            col = col.cast(pa.string())
        # ignore_metadata: a pandas-written file's index columns stay columns (carried to the
        # output like any other), and every batch gets its own RangeIndex
        yield make_batch(row, t.to_pandas(ignore_metadata=True), col.to_pylist())


def _read_parquet(path: str, smiles_col: str | None, batch_size: int, start_row: int
                  ) -> Iterator[MolBatch]:
    pf = parquet_file(path)
    col = find_smiles_column(pf.schema_arrow.names, smiles_col, source=path)
    md = pf.metadata
    groups, skip, begin = [], 0, 0
    for g in range(md.num_row_groups):
        rows = md.row_group(g).num_rows
        if begin + rows <= start_row:
            begin += rows
            continue
        if not groups:
            skip = max(start_row - begin, 0)
        groups.append(g)
        begin += rows
    def stream() -> Iterator[pa.RecordBatch]:
        if not groups:
            return
        left = skip
        for b in pf.iter_batches(batch_size=batch_size, row_groups=groups):
            if left:
                cut = min(left, b.num_rows)
                b, left = b.slice(cut), left - cut
            if b.num_rows:
                yield b

    return _table_batches(_rebatch(stream(), batch_size), col, start_row)


def _csv_stream(path: str, fmt: Format, column_types: dict[str, pa.DataType],
                start_row: int = 0, include: list[str] | None = None
                ) -> Iterator[pa.RecordBatch]:
    """Arrow's streaming CSV reader over a file, with its errors as MoloodInputError."""
    import pyarrow.csv as pacsv

    convert = pacsv.ConvertOptions(column_types=column_types)
    if include is not None:
        convert.include_columns = include
    reader = pacsv.open_csv(
        path, parse_options=pacsv.ParseOptions(delimiter=delimiter(fmt)),
        read_options=pacsv.ReadOptions(block_size=_CSV_BLOCK_SIZE,
                                       skip_rows_after_names=start_row),
        convert_options=convert)
    while True:
        try:
            b = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            hint = ("" if "conversion error" not in str(exc) else
                    ". Column types are inferred from the first block of the file; read with "
                    "infer_types=False to keep every column as text")
            raise MoloodInputError(f"{path}: {exc}{hint}") from exc
        yield b


def _read_csv(path: str, fmt: Format, smiles_col: str | None, batch_size: int,
              start_row: int, infer_types: bool) -> Iterator[MolBatch]:
    names = csv_header(path, fmt)
    col = find_smiles_column(names, smiles_col, source=path)
    types = {n: pa.string() for n in names} if not infer_types else {col: pa.string()}
    stream = _csv_stream(path, fmt, types, start_row)
    return _table_batches(_rebatch(stream, batch_size), col, start_row)


