"""Streaming readers for screening libraries.

Readers never load a whole file: Parquet is read with ``ParquetFile.iter_batches``, CSV with
pyarrow's streaming CSV reader, SMILES files and SD files line by line (``.gz`` transparently).
Every source row becomes exactly one row of exactly one :class:`MolBatch`, in order, whatever
its content: an empty SMILES cell, an unparseable SMILES and a broken SD record all stay rows
and get an error reason when parsed (``"empty"``, ``"invalid_smiles: ..."``,
``"sdf_parse_error: ..."``).

Parsing is separate from reading, so that it can run in worker processes: ``MolBatch.inputs``
is the plain list of SMILES strings (or mol blocks for SD files) to hand to
:func:`molood.chem.features.inputs_to_arrays`. :func:`csv_columns` (a table's header) and
:func:`count_rows` answer what a caller needs to know of a file before reading it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from molood.exceptions import MoloodInputError
from molood.io.formats import (
    Format,
    delimiter,
    detect_format,
    find_smiles_column,
    open_binary,
    open_text,
)

__all__ = [
    "MolBatch",
    "read_batches",
    "csv_columns",
    "count_rows",
    "count_lines",
]

_CSV_BLOCK_SIZE = 1 << 22  # bytes per Arrow CSV block; types are inferred from the first


# ====================================================================== batches
@dataclass
class MolBatch:
    """A slice of consecutive input rows.

    Attributes
    ----------
    row_index : ndarray of int64, shape [n]
        0-based source row numbers (data rows / SD records; headers and blank lines are not
        rows).
    columns : pandas.DataFrame
        The input columns of these rows with their original dtypes (RangeIndex 0..n-1). For SD
        files: ``_Name`` (title line) and every SD property, as strings.
    kind : "smiles" or "molblock"
        What ``inputs`` holds.
    smiles : list of (str or None)
        The raw SMILES cells (None for a null cell); all None for SD input.
    molblocks : list of (str or None) or None
        SD input only: each record's mol block (header to ``M  END``), verbatim.
    """

    row_index: np.ndarray
    columns: pd.DataFrame
    kind: Literal["smiles", "molblock"]
    smiles: list[str | None]
    molblocks: list[str | None] | None = None
    _parsed: Any = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.row_index.shape[0])

    @property
    def inputs(self) -> list[str | None]:
        """What to featurize: SMILES strings, or mol blocks when ``kind == "molblock"``."""
        return self.molblocks if self.kind == "molblock" else self.smiles  # type: ignore

    def to_arrays(self, largest_fragment: bool = False) -> tuple[Any, list[str | None]]:
        """Parse + featurize: ``(GraphArrays of the valid rows, errors per row)``."""
        from molood.chem.features import inputs_to_arrays

        return inputs_to_arrays(self.inputs, self.kind, largest_fragment=largest_fragment)

    def mols(self) -> tuple[list[Any], list[str | None]]:
        """RDKit molecules (None where invalid) and error reasons, parsed on first call."""
        if self._parsed is None:
            from molood.chem.parse import parse

            pairs = [parse(v, self.kind) for v in self.inputs]
            self._parsed = ([m for m, _ in pairs], [e for _, e in pairs])
        return self._parsed


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
        whose type changes after the first block.

    An empty file gives no batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if start_row < 0:
        raise ValueError(f"start_row must be >= 0, got {start_row}")
    fmt = detect_format(path)
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    if fmt == "parquet":
        return _read_parquet(path, smiles_col, batch_size, start_row)
    if fmt in ("csv", "tsv"):
        return _read_csv(path, fmt, smiles_col, batch_size, start_row, infer_types)
    if fmt == "smi":
        return _read_smi(path, batch_size, start_row)
    return _read_sdf(path, batch_size, start_row)


def count_rows(path: str | os.PathLike, *, exact: bool = True) -> int:
    """Number of data rows of a library file: the rows :func:`read_batches` yields.

    Parquet: from the footer, exact, without reading any data (what a sharded workflow plans
    with). Other formats take one pass over the file: with ``exact`` (default) through the
    readers themselves, so quoted newlines, blank lines, header lines and SD records count as
    they do when reading; with ``exact=False`` CSV/TSV/SMILES files get a fast newline count
    instead, an estimate for progress bars (a quoted newline or a blank line counts as a row).
    """
    fmt = detect_format(path)
    path = os.fspath(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
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
        probe = pacsv.open_csv(path, parse_options=pacsv.ParseOptions(delimiter=delimiter(fmt)),
                               read_options=pacsv.ReadOptions(block_size=1 << 16))
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc) or os.path.getsize(path) == 0:
            return None
        raise MoloodInputError(f"{path}: cannot read as CSV: {exc}") from exc
    names = probe.schema.names
    probe.close()
    return names


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
        yield _batch(row, t.to_pandas(), col.to_pylist())


def _batch(stop: int, columns: pd.DataFrame, smiles: list[str | None],
           molblocks: list[str | None] | None = None) -> MolBatch:
    """The batch of the ``len(smiles)`` source rows before row ``stop``; mol blocks, if
    given, make it a ``"molblock"`` batch."""
    return MolBatch(row_index=np.arange(stop - len(smiles), stop, dtype=np.int64),
                    columns=columns, kind="smiles" if molblocks is None else "molblock",
                    smiles=smiles, molblocks=molblocks)


def _read_parquet(path: str, smiles_col: str | None, batch_size: int, start_row: int
                  ) -> Iterator[MolBatch]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
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
            raise MoloodInputError(
                f"{path}: {exc}. Column types are inferred from the first block of the file; "
                f"read with infer_types=False to keep every column as text") from exc
        yield b


def _read_csv(path: str, fmt: Format, smiles_col: str | None, batch_size: int,
              start_row: int, infer_types: bool) -> Iterator[MolBatch]:
    names = csv_columns(path, fmt)
    if names is None:
        return iter(())
    col = find_smiles_column(names, smiles_col, source=path)
    types = {n: pa.string() for n in names} if not infer_types else {col: pa.string()}
    stream = _csv_stream(path, fmt, types, start_row)
    return _table_batches(_rebatch(stream, batch_size), col, start_row)


# ---------------------------------------------------------------------- text formats
def _read_smi(path: str, batch_size: int, start_row: int) -> Iterator[MolBatch]:
    row = 0
    smiles: list[str | None] = []
    names: list[str | None] = []
    first = True
    with open_text(path) as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            parts = line.split(None, 1)
            if first:
                first = False
                if parts[0].lower() in ("smiles", "smi"):
                    continue  # header line
            if row >= start_row:
                smiles.append(parts[0])
                names.append(parts[1] if len(parts) > 1 else None)
                if len(smiles) == batch_size:
                    yield _batch(row + 1, pd.DataFrame({"smiles": smiles, "name": names}),
                                 smiles)
                    smiles, names = [], []
            row += 1
    if smiles:
        yield _batch(row, pd.DataFrame({"smiles": smiles, "name": names}), smiles)


def _split_sd_record(lines: list[str]) -> tuple[str, dict[str, str]]:
    """(mol block up to and including ``M  END``, SD properties) of one record's lines."""
    end = None
    for i, ln in enumerate(lines):
        if ln.startswith("M  END"):
            end = i
            break
    if end is None:  # broken record: keep everything before the first data header
        end = next((i for i, ln in enumerate(lines) if ln.startswith(">") and "<" in ln),
                   len(lines)) - 1
    block = "\n".join(lines[: end + 1])
    props: dict[str, str] = {}
    i = end + 1
    while i < len(lines):
        ln = lines[i]
        if ln.startswith(">") and "<" in ln and ">" in ln[ln.index("<"):]:
            name = ln[ln.index("<") + 1: ln.index(">", ln.index("<"))]
            vals = []
            i += 1
            while i < len(lines) and lines[i].strip() != "":
                vals.append(lines[i])
                i += 1
            props[name] = "\n".join(vals)
        i += 1
    return block, props


def _sd_records(path: str) -> Iterator[list[str]]:
    """The lines of each SD record: ``$$$$``-terminated, and a last one without terminator."""
    lines: list[str] = []
    with open_text(path) as fh:
        for line in fh:
            line = line.rstrip("\r\n")
            if line.strip() == "$$$$":
                yield lines
                lines = []
            else:
                lines.append(line)
    if any(ln.strip() for ln in lines):
        yield lines


def _read_sdf(path: str, batch_size: int, start_row: int) -> Iterator[MolBatch]:
    blocks: list[str | None] = []
    recs: list[dict[str, str]] = []

    def batch(stop: int) -> MolBatch:
        df = pd.DataFrame.from_records(recs) if recs else pd.DataFrame()
        return _batch(stop, df, [None] * len(blocks), blocks)

    row = -1
    for row, lines in enumerate(_sd_records(path)):
        if row < start_row:
            continue
        block, props = _split_sd_record(lines)
        blocks.append(block)
        recs.append({"_Name": lines[0].strip() if lines else "", **props})
        if len(blocks) == batch_size:
            yield batch(row + 1)
            blocks, recs = [], []
    if blocks:
        yield batch(row + 1)
