"""Input planning for :func:`~molood.screening.engine.screen`: what a library file holds
before it is streamed.

:func:`plan_input` finds the columns carried to the output (with their Arrow types), the SMILES
column and, when asked, the number of rows (for the progress bar), reading as little as each
format allows: a Parquet footer, a CSV header, nothing for a SMILES file; SD files need one pass
(their properties can differ from record to record).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from molood.exceptions import MoloodInputError
from molood.io.formats import Format, detect_format, find_smiles_column
from molood.io.readers import count_rows, csv_columns, read_batches

__all__ = ["InputPlan", "plan_input"]

_TEXT = pa.string()


@dataclass
class InputPlan:
    """What :func:`plan_input` found out about a library file."""

    fmt: Format
    fields: list[pa.Field]
    """input columns carried to the output, in order (CSV, SMILES and SD columns as text)"""
    smiles_col: str | None
    """the resolved SMILES column (tables) or None (SD files)"""
    rows: int | None
    """total rows when asked for (an estimate for CSV/SMILES files: progress bars only)"""


def plan_input(path: str, smiles_col: str | None, want_count: bool) -> InputPlan:
    """Plan the screening of ``path`` (see the module docstring); raises MoloodInputError for
    a missing SMILES column."""
    fmt = detect_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        col = find_smiles_column(pf.schema_arrow.names, smiles_col, source=path)
        fields = [f.remove_metadata() if f.metadata else f for f in pf.schema_arrow]
        return InputPlan(fmt, fields, col, pf.metadata.num_rows)
    if fmt in ("csv", "tsv"):
        names = csv_columns(path, fmt)
        if names is None:
            return InputPlan(fmt, [], None, 0)
        col = find_smiles_column(names, smiles_col, source=path)
        rows = count_rows(path, exact=False) if want_count else None
        return InputPlan(fmt, [pa.field(n, _TEXT) for n in names], col, rows)
    if fmt == "smi":
        if smiles_col not in (None, "smiles"):
            raise MoloodInputError(f"{path}: a .smi file has the columns ['smiles', 'name']; "
                                   f"no column {smiles_col!r}")
        rows = count_rows(path, exact=False) if want_count else None
        return InputPlan(fmt, [pa.field("smiles", _TEXT), pa.field("name", _TEXT)], "smiles",
                         rows)
    # SD file: the property names of all records (a record may lack some) and the row count
    names: dict[str, None] = {"_Name": None}
    rows = 0
    for b in read_batches(path, batch_size=5_000):
        names.update(dict.fromkeys(str(c) for c in b.columns.columns))
        rows += len(b)
    return InputPlan(fmt, [pa.field(n, _TEXT) for n in names], None, rows)
