"""Streaming readers and atomic writers for screening libraries.

Readers never load a whole file: Parquet is read with ``ParquetFile.iter_batches``, CSV with
pyarrow's streaming CSV reader, SMILES files and SD files line by line (``.gz`` transparently).
Every source row becomes exactly one row of exactly one :class:`MolBatch`, in order, whatever
its content: an empty SMILES cell, an unparseable SMILES and a broken SD record all stay rows
and get an error reason when parsed (``"empty"``, ``"invalid_smiles: ..."``,
``"sdf_parse_error: ..."``).

Parsing is separate from reading, so that it can run in worker processes: ``MolBatch.inputs``
is the plain list of SMILES strings (or mol blocks for SD files) to hand to
:func:`molood.chem.features.smiles_to_arrays` / :func:`~molood.chem.features.molblocks_to_arrays`.

Writers (:func:`open_writer`) write to ``<path>.part`` in the same directory and move it into
place with ``os.replace`` only on a successful ``close()``; on an exception (context manager) or
``abort()`` the partial file is deleted and nothing appears at ``path``.
"""

from __future__ import annotations

from molood.exceptions import MoloodInputError  # noqa: F401 - re-exported

import gzip
import io
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Literal, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = [
    "MoloodInputError",
    "MolBatch",
    "read_batches",
    "detect_format",
    "find_smiles_column",
    "count_rows",
    "open_writer",
    "Writer",
    "SMILES_COLUMN_CANDIDATES",
    "EMPTY_MOLBLOCK",
]

log = logging.getLogger(__name__)

#: column names recognised as the SMILES column, in priority order (case-insensitive)
SMILES_COLUMN_CANDIDATES = ("smiles", "canonical_smiles", "mol")

#: what the SD writer emits for a row without a structure (invalid SMILES, empty cell)
EMPTY_MOLBLOCK = "\n     molood\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END"

Format = Literal["parquet", "csv", "tsv", "smi", "sdf"]

_SUFFIXES: dict[str, Format] = {
    ".parquet": "parquet", ".pq": "parquet",
    ".csv": "csv", ".csv.gz": "csv",
    ".tsv": "tsv", ".tsv.gz": "tsv",
    ".smi": "smi", ".smi.gz": "smi", ".smiles": "smi", ".smiles.gz": "smi",
    ".sdf": "sdf", ".sdf.gz": "sdf", ".sd": "sdf", ".sd.gz": "sdf",
}


_CSV_BLOCK_SIZE = 1 << 22  # bytes per Arrow CSV block; types are inferred from the first



def detect_format(path: str | os.PathLike) -> Format:
    """File format from the file name (case-insensitive); raises MoloodInputError if unknown."""
    name = Path(path).name.lower()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return _SUFFIXES[suffix]
    raise MoloodInputError(
        f"{os.fspath(path)!r}: unknown file type; supported extensions are "
        f"{', '.join(sorted(_SUFFIXES))}")


def find_smiles_column(columns: Sequence[str], smiles_col: str | None = None,
                       source: str = "input") -> str:
    """The SMILES column: ``smiles_col`` if given (must exist), else the first of
    ``smiles``, ``canonical_smiles``, ``mol`` present (case-insensitive)."""
    columns = [str(c) for c in columns]
    if smiles_col is not None:
        if smiles_col in columns:
            return smiles_col
        raise MoloodInputError(f"{source}: no column {smiles_col!r}; columns are {columns}")
    lower = {c.lower(): c for c in reversed(columns)}
    for cand in SMILES_COLUMN_CANDIDATES:
        if cand in lower:
            return lower[cand]
    raise MoloodInputError(
        f"{source}: no SMILES column found (looked for {list(SMILES_COLUMN_CANDIDATES)}, any "
        f"case); columns are {columns}. Choose one with smiles_col= (CLI: --smiles-col)")


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

    def to_arrays(self, largest_fragment: bool = False):
        """Parse + featurize: ``(GraphArrays of the valid rows, errors per row)``."""
        from molood.chem.features import molblocks_to_arrays, smiles_to_arrays

        fn = molblocks_to_arrays if self.kind == "molblock" else smiles_to_arrays
        return fn(self.inputs, largest_fragment=largest_fragment)

    def mols(self) -> tuple[list[Any], list[str | None]]:
        """RDKit molecules (None where invalid) and error reasons, parsed on first call."""
        if self._parsed is None:
            from molood.chem.parse import parse_molblock, parse_smiles

            fn = parse_molblock if self.kind == "molblock" else parse_smiles
            pairs = [fn(v) for v in self.inputs]
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
        return _read_csv(path, smiles_col, batch_size, start_row, infer_types,
                         "\t" if fmt == "tsv" else ",")
    if fmt == "smi":
        return _read_smi(path, batch_size, start_row)
    return _read_sdf(path, batch_size, start_row)


def count_rows(path: str | os.PathLike) -> int | None:
    """Number of data rows when cheap to know (Parquet footer), else None."""
    if detect_format(path) == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(os.fspath(path)).metadata.num_rows
    return None


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
        n = t.num_rows
        col = t.column(smiles_col)
        if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
            col = col.cast(pa.string())
        df = t.to_pandas()
        yield MolBatch(row_index=np.arange(row, row + n, dtype=np.int64), columns=df,
                       kind="smiles", smiles=col.to_pylist())
        row += n


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


def _read_csv(path: str, smiles_col: str | None, batch_size: int, start_row: int,
              infer_types: bool, delimiter: str) -> Iterator[MolBatch]:
    import pyarrow.csv as pacsv

    parse = pacsv.ParseOptions(delimiter=delimiter)
    try:
        probe = pacsv.open_csv(path, parse_options=parse,
                               read_options=pacsv.ReadOptions(block_size=1 << 16))
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc) or os.path.getsize(path) == 0:
            return iter(())
        raise MoloodInputError(f"{path}: cannot read as CSV: {exc}") from exc
    names = probe.schema.names
    probe.close()
    col = find_smiles_column(names, smiles_col, source=path)
    types = {n: pa.string() for n in names} if not infer_types else {col: pa.string()}
    reader = pacsv.open_csv(
        path, parse_options=parse,
        read_options=pacsv.ReadOptions(block_size=_CSV_BLOCK_SIZE,
                                       skip_rows_after_names=start_row),
        convert_options=pacsv.ConvertOptions(column_types=types))

    def stream() -> Iterator[pa.RecordBatch]:
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

    return _table_batches(_rebatch(stream(), batch_size), col, start_row)


# ---------------------------------------------------------------------- text formats
def _open_text(path: str) -> IO[str]:
    if path.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace",
                                newline=None)
    return open(path, encoding="utf-8", errors="replace", newline=None)


def _read_smi(path: str, batch_size: int, start_row: int) -> Iterator[MolBatch]:
    row = 0
    smiles: list[str | None] = []
    names: list[str | None] = []
    first = True
    with _open_text(path) as fh:
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
                    yield _smi_batch(row + 1 - len(smiles), smiles, names)
                    smiles, names = [], []
            row += 1
    if smiles:
        yield _smi_batch(row - len(smiles), smiles, names)


def _smi_batch(first: int, smiles: list, names: list) -> MolBatch:
    df = pd.DataFrame({"smiles": smiles, "name": names})
    return MolBatch(row_index=np.arange(first, first + len(smiles), dtype=np.int64),
                    columns=df, kind="smiles", smiles=list(smiles))


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


def _read_sdf(path: str, batch_size: int, start_row: int) -> Iterator[MolBatch]:
    row = 0
    blocks: list[str | None] = []
    recs: list[dict[str, str]] = []

    def flush(last_row: int) -> MolBatch:
        df = pd.DataFrame.from_records(recs) if recs else pd.DataFrame()
        first = last_row - len(blocks)
        b = MolBatch(row_index=np.arange(first, last_row, dtype=np.int64), columns=df,
                     kind="molblock", smiles=[None] * len(blocks), molblocks=list(blocks))
        return b

    with _open_text(path) as fh:
        lines: list[str] = []
        for line in fh:
            line = line.rstrip("\r\n")
            if line.strip() != "$$$$":
                lines.append(line)
                continue
            if row >= start_row:
                block, props = _split_sd_record(lines)
                blocks.append(block)
                recs.append({"_Name": lines[0].strip() if lines else "", **props})
                if len(blocks) == batch_size:
                    yield flush(row + 1)
                    blocks, recs = [], []
            row += 1
            lines = []
        if any(ln.strip() for ln in lines):  # last record without its $$$$ terminator
            if row >= start_row:
                block, props = _split_sd_record(lines)
                blocks.append(block)
                recs.append({"_Name": lines[0].strip(), **props})
            row += 1
    if blocks:
        yield flush(row)


# ====================================================================== writers
class Writer:
    """Streaming, atomic table writer; use :func:`open_writer`.

    ``write(df)`` appends rows; ``close()`` finishes the file and moves ``<path>.part`` to
    ``path``; ``abort()`` (or an exception inside ``with``) deletes the partial file.
    """

    def __init__(self, path: str | os.PathLike, columns: Sequence[str] | None = None,
                 metadata: dict[str, str] | None = None, *, schema: pa.Schema | None = None,
                 smiles_col: str | None = None) -> None:
        self.path = os.fspath(path)
        self.format = detect_format(self.path)
        if self.format == "smi":
            raise MoloodInputError(f"{self.path!r}: writing .smi is not supported; use .csv, "
                                   f".parquet or .sdf")
        self.tmp_path = self.path + ".part"
        self.metadata = {str(k): str(v) for k, v in (metadata or {}).items()}
        self.columns = list(columns) if columns is not None else None
        self.schema = schema
        self.smiles_col = smiles_col
        self.rows_written = 0
        self._warned_extra = False
        self._pq = None
        self._fh = None
        d = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(d):
            raise FileNotFoundError(f"output directory does not exist: {d}")
        self._closed = False
        if self.format == "parquet":
            self._fh = None
        elif self.path.lower().endswith(".gz"):
            self._fh = io.TextIOWrapper(gzip.open(self.tmp_path, "wb"), encoding="utf-8",
                                        newline="")
        else:
            self._fh = open(self.tmp_path, "w", encoding="utf-8", newline="")

    # ------------------------------------------------------------------ public
    def write(self, df: pd.DataFrame, molblocks: Sequence[str | None] | None = None) -> None:
        """Append the rows of ``df`` (one output row/record per row, in order).

        ``molblocks`` (SD output only): structure per row; None/blank entries fall back to the
        SMILES column (parsed, RDKit mol block) and then to :data:`EMPTY_MOLBLOCK`.
        """
        if self._closed:
            raise ValueError("write() on a closed writer")
        if molblocks is not None and len(molblocks) != len(df):
            raise ValueError(f"{len(molblocks)} molblocks for {len(df)} rows")
        if self.format == "sdf":
            self._write_sdf(df, molblocks)
        else:
            df = self._align(df)
            if self.format == "parquet":
                self._write_parquet(df)
            else:
                df.to_csv(self._fh, header=self.rows_written == 0, index=False,
                          sep="\t" if self.format == "tsv" else ",")
        self.rows_written += len(df)

    def close(self) -> None:
        """Finish the file and move it into place (idempotent)."""
        if self._closed:
            return
        try:
            if self.format == "parquet":
                if self._pq is None:  # nothing written: still produce a valid empty file
                    self._open_parquet(self._empty_schema())
                self._pq.close()
            else:
                if self.format in ("csv", "tsv") and self.rows_written == 0 and self.columns:
                    pd.DataFrame(columns=self.columns).to_csv(
                        self._fh, index=False, sep="\t" if self.format == "tsv" else ",")
                self._fh.close()
            os.replace(self.tmp_path, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True

    def abort(self) -> None:
        """Drop everything written so far; nothing appears at ``path``."""
        self._closed = True
        try:
            if self._pq is not None:
                self._pq.close()
            if self._fh is not None:
                self._fh.close()
        except Exception:  # noqa: BLE001 - we are discarding the file anyway
            pass
        try:
            os.remove(self.tmp_path)
        except FileNotFoundError:
            pass

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:  # an abandoned writer must not leave a .part file behind
        if not getattr(self, "_closed", True):
            self.abort()

    # ------------------------------------------------------------------ helpers
    def _align(self, df: pd.DataFrame) -> pd.DataFrame:
        if self.columns is None:
            self.columns = [str(c) for c in df.columns]
            return df
        extra = [c for c in df.columns if c not in self.columns]
        if extra and not self._warned_extra:
            log.warning("%s: columns %s are not in the output columns %s and are dropped",
                        self.path, extra, self.columns)
            self._warned_extra = True
        return df.reindex(columns=self.columns)

    def _empty_schema(self) -> pa.Schema:
        if self.schema is not None:
            return self.schema
        return pa.schema([pa.field(c, pa.string()) for c in (self.columns or [])])

    def _open_parquet(self, schema: pa.Schema) -> None:
        import pyarrow.parquet as pq

        md = dict(schema.metadata or {})
        md.update({k.encode(): v.encode() for k, v in self.metadata.items()})
        self.schema = schema.with_metadata(md)
        self._pq = pq.ParquetWriter(self.tmp_path, self.schema)

    def _write_parquet(self, df: pd.DataFrame) -> None:
        if self._pq is None:
            if self.schema is None:
                table = pa.Table.from_pandas(df, preserve_index=False)
                # an all-null first batch has type null; widen so later batches fit
                fields = [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                          for f in table.schema]
                schema = pa.schema(fields, metadata=table.schema.metadata)
            else:
                schema = self.schema
            self._open_parquet(schema)
        try:
            table = pa.Table.from_pandas(df, schema=self.schema, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise MoloodInputError(
                f"{self.path}: batch does not fit the output schema fixed by the first batch "
                f"({exc}); pass schema= to open_writer or read CSV with infer_types=False"
            ) from exc
        self._pq.write_table(table)

    def _write_sdf(self, df: pd.DataFrame, molblocks: Sequence[str | None] | None) -> None:
        from molood.chem.parse import call_capturing

        smiles_col = self.smiles_col
        if smiles_col is None:
            try:
                smiles_col = find_smiles_column(df.columns)
            except MoloodInputError:
                smiles_col = None
        prop_cols = [c for c in df.columns if c != "_Name"]
        names = df["_Name"].tolist() if "_Name" in df.columns else [None] * len(df)
        values = {c: df[c].tolist() for c in prop_cols}
        smiles = df[smiles_col].tolist() if smiles_col is not None else [None] * len(df)
        out = []
        for i in range(len(df)):
            block = molblocks[i] if molblocks is not None else None
            if not isinstance(block, str) or not block.strip():
                block = None
                s = smiles[i]
                if isinstance(s, str) and s.strip():
                    from rdkit import Chem

                    mol, _ = call_capturing(Chem.MolFromSmiles, s.strip())
                    if mol is not None and mol.GetNumAtoms():
                        if _present(names[i]):
                            mol.SetProp("_Name", str(names[i]))
                        block, _ = call_capturing(Chem.MolToMolBlock, mol)
                if not block:
                    title = str(names[i]) if _present(names[i]) else ""
                    block = title.replace("\n", " ") + EMPTY_MOLBLOCK
            block = block.rstrip()
            if not block.endswith("M  END"):
                block += "\nM  END"
            parts = [block, "\n"]
            for c in prop_cols:
                v = values[c][i]
                if not _present(v):
                    continue
                text = "\n".join(ln for ln in str(v).splitlines() if ln.strip()) or " "
                parts.append(f">  <{c}>\n{text}\n\n")
            parts.append("$$$$\n")
            out.append("".join(parts))
        self._fh.write("".join(out))


def _present(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return False
    if isinstance(v, float) and math.isnan(v):
        return False
    return True


def open_writer(path: str | os.PathLike, columns: Sequence[str] | None = None,
                metadata: dict[str, str] | None = None, *, schema: pa.Schema | None = None,
                smiles_col: str | None = None) -> Writer:
    """Open a streaming, atomic writer for ``.parquet``, ``.csv``/``.tsv`` (``.gz`` ok) or
    ``.sdf``.

    Parameters
    ----------
    columns : sequence of str, optional
        Output columns (CSV/Parquet). Default: those of the first ``write``. Later batches are
        re-indexed to them (missing -> null, extra -> dropped with one warning).
    metadata : dict of str to str, optional
        Parquet key-value metadata (stored in the file footer). Ignored by CSV and SDF.
    schema : pyarrow.Schema, optional
        Parquet schema; default from the first batch (null-typed columns widened to string).
    smiles_col : str, optional
        SDF: column to build mol blocks from when ``write`` gets no mol block for a row
        (default: auto-detected). Rows with neither get :data:`EMPTY_MOLBLOCK` (0 atoms) so
        that every input row is still one SD record; their properties (e.g. the error) are
        written as usual.
    """
    return Writer(path, columns, metadata, schema=schema, smiles_col=smiles_col)
