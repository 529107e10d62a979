"""Screened rows as a stream of Arrow batches of the columns a report needs, from a screened
file (Parquet, CSV/TSV, SD) or an in-memory frame; plus the run metadata a screen stored.

Only the result columns, the molecule column and the ID/name columns
(:func:`~molood.explain.labels.find_label_columns`) are read: Parquet by column projection,
CSV/TSV by Arrow's streaming reader with ``include_columns``, SD files record by record (the
mol block is the molecule). pyarrow + pandas; no RDKit, no torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import pandas as pd
import pyarrow as pa

from molood.exceptions import MoloodInputError
from molood.explain.labels import find_label_columns
from molood.io.formats import delimiter, detect_format, find_smiles_column
from molood.screening.columns import OUTPUT_COLUMNS, SCORE_COLUMN

__all__ = ["ScreenedSource", "open_screened", "frame_source", "MOL_COLUMN"]

MOL_COLUMN = "__molood_molecule"
"""The molecule column of SD input's batches (mol blocks)."""

_BATCH = 16384


@dataclass
class ScreenedSource:
    """A screened table, ready to stream: ``batches()`` yields ``(Arrow batch, kind)``."""

    path: str
    fmt: str
    smiles_col: str | None
    id_col: str | None
    name_col: str | None
    metadata: dict[str, str]
    kind: str = "smiles"
    frame: pd.DataFrame | None = None

    def batches(self) -> Iterator[tuple[pa.RecordBatch | pa.Table, str]]:
        """The rows in order, in batches of the needed columns."""
        cols = [c for c in (*OUTPUT_COLUMNS, self.smiles_col, self.id_col, self.name_col) if c]
        cols = list(dict.fromkeys(cols))
        if self.frame is not None:
            table = pa.Table.from_pandas(self.frame[[c for c in cols if c in self.frame]],
                                         preserve_index=False)
            for b in table.to_batches(max_chunksize=_BATCH):
                yield b, self.kind
        elif self.fmt == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(self.path)
            have = [c for c in cols if c in pf.schema_arrow.names]
            for b in pf.iter_batches(batch_size=_BATCH, columns=have):
                yield b, self.kind
        elif self.fmt in ("csv", "tsv"):
            yield from ((b, self.kind) for b in self._csv(cols))
        else:
            yield from self._sdf()

    def _csv(self, cols: list[str]) -> Iterator[pa.RecordBatch]:
        import pyarrow.csv as pacsv

        from molood.io.readers import csv_columns

        names = csv_columns(self.path, self.fmt) or []  # type: ignore[arg-type]
        have = [c for c in cols if c in names]
        types = {c: pa.string() for c in have}
        types.update({c: pa.float64() for c in OUTPUT_COLUMNS[:2] if c in have})
        reader = pacsv.open_csv(
            self.path, parse_options=pacsv.ParseOptions(delimiter=delimiter(self.fmt)),  # type: ignore[arg-type]
            read_options=pacsv.ReadOptions(block_size=1 << 22),
            convert_options=pacsv.ConvertOptions(column_types=types, include_columns=have))
        yield from reader

    def _sdf(self) -> Iterator[tuple[pa.Table, str]]:
        from molood.io.readers import read_batches

        for b in read_batches(self.path, batch_size=_BATCH):
            df = b.columns
            data = {c: pd.to_numeric(df[c], errors="coerce") if c in OUTPUT_COLUMNS[:2]
                    else df[c].astype(object) for c in OUTPUT_COLUMNS if c in df}
            for c in (self.id_col, self.name_col):
                if c and c in df:
                    data[c] = df[c].astype(object)
            data[MOL_COLUMN] = pd.Series(b.molblocks, dtype=object)
            yield pa.Table.from_pandas(pd.DataFrame(data), preserve_index=False), "molblock"


def _not_screened(path: str, names: list[str]) -> MoloodInputError:
    return MoloodInputError(f"{path}: no {SCORE_COLUMN} column, so not a screened file "
                            f"(columns: {names}); screen it first with `molood screen`")


def open_screened(path: str | os.PathLike, smiles_col: str | None = None,
                  id_col: str | None = None, name_col: str | None = None) -> ScreenedSource:
    """The :class:`ScreenedSource` of a screened file (its format from the extension)."""
    path = os.fspath(path)
    fmt = detect_format(path)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    metadata: dict[str, str] = {}
    if fmt == "parquet":
        import pyarrow.parquet as pq

        schema = pq.ParquetFile(path).schema_arrow
        names = schema.names
        metadata = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()
                    if k.startswith(b"molood_")}
    elif fmt in ("csv", "tsv"):
        from molood.io.readers import csv_columns

        names = csv_columns(path, fmt) or []
    elif fmt == "sdf":
        from molood.io.readers import read_batches

        first = next(iter(read_batches(path, batch_size=64)), None)
        names = list(first.columns.columns) if first is not None else []
        if SCORE_COLUMN not in names:
            raise _not_screened(path, names)
        ids = find_label_columns(names, id_col, name_col, path)
        return ScreenedSource(path, fmt, MOL_COLUMN, *ids, metadata, kind="molblock")
    else:
        raise MoloodInputError(f"{path}: a report reads screened .parquet, .csv, .tsv or .sdf "
                               f"files, not {fmt}")
    if SCORE_COLUMN not in names:
        raise _not_screened(path, names)
    smiles = find_smiles_column(names, smiles_col, source=path)
    return ScreenedSource(path, fmt, smiles, *find_label_columns(names, id_col, name_col, path),
                          metadata)


def frame_source(df: pd.DataFrame, smiles_col: str, id_col: str | None = None,
                 name_col: str | None = None, metadata: dict[str, str] | None = None,
                 label: str = "<DataFrame>") -> ScreenedSource:
    """A :class:`ScreenedSource` over a frame that has the four result columns."""
    names = [str(c) for c in df.columns]
    if SCORE_COLUMN not in names:
        raise _not_screened(label, names)
    ids = find_label_columns(names, id_col, name_col, label)
    return ScreenedSource(label, "frame", smiles_col, *ids, dict(metadata or {}), frame=df)
