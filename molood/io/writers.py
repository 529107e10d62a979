"""Streaming, atomic writers for screening results: Parquet, CSV/TSV (``.gz`` ok) and SD files.

:func:`open_writer` returns a :class:`Writer` that appends DataFrames batch by batch. The file
is written to ``<path>.part`` in the same directory and moved into place (fsync, ``os.replace``;
:mod:`molood._fs`) only on a successful ``close()``; on an exception (context manager) or
``abort()`` the partial file is deleted and nothing appears at ``path``. SD output keeps each
input record's structure and writes the columns as SD properties.
"""

from __future__ import annotations

import gzip
import io
import logging
import math
import os
from typing import Any, Sequence

import pandas as pd
import pyarrow as pa

from molood._fs import commit_part, part_path, remove_part
from molood.exceptions import MoloodInputError
from molood.io.formats import delimiter, detect_output_format, find_smiles_column, is_gzip

__all__ = ["Writer", "open_writer", "EMPTY_MOLBLOCK"]

log = logging.getLogger(__name__)

#: what the SD writer emits for a row without a structure (invalid SMILES, empty cell)
EMPTY_MOLBLOCK = "\n     molood\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END"


class Writer:
    """Streaming, atomic table writer; use :func:`open_writer`.

    ``write(df)`` appends rows; ``close()`` finishes the file and moves ``<path>.part`` to
    ``path``; ``abort()`` (or an exception inside ``with``) deletes the partial file.
    """

    def __init__(self, path: str | os.PathLike, columns: Sequence[str] | None = None,
                 metadata: dict[str, str] | None = None, *, schema: pa.Schema | None = None,
                 smiles_col: str | None = None) -> None:
        self.path = os.fspath(path)
        self.format = detect_output_format(self.path)
        self.tmp_path = os.fspath(part_path(self.path))
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
        elif is_gzip(self.path):
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
                          sep=delimiter(self.format))
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
                        self._fh, index=False, sep=delimiter(self.format))
                self._fh.close()
            commit_part(self.tmp_path, self.path)
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
        remove_part(self.tmp_path)

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
