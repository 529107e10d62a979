"""Input planning for :func:`~molood.screening.engine.screen`: what a library file holds
before it is streamed, and which of its columns go to the output under which names.

:func:`plan_input` finds the columns carried to the output (with their Arrow types), the SMILES
column and, when asked, the number of rows (for the progress bar), reading as little as each
format allows: a Parquet footer, a CSV header, nothing for a SMILES file; SD files need one pass
(their properties can differ from record to record). It also settles two things about the
output's columns:

The ID column (``id_col``, ``molood screen --id-col``)
    The column that identifies a row; it becomes the output's first column. For an SD file it
    is the SD property of that name if the records carry one, else the title line, written
    under that name instead of ``_Name`` (as RDKit's ``PandasTools.LoadSDF(idName=...)``);
    for a SMILES file, the name field (column ``name`` by default); for a table, an existing
    column (an error names the columns if there is none). Default: the title ``_Name`` for
    SD files, ``name`` for SMILES files, the table's own column order.
The structure of SD records in a table (``structure_smiles``)
    A Parquet/CSV/TSV output of an SD file gets a column with each record's canonical RDKit
    SMILES (null for a record RDKit cannot read), after the SD columns and before the result
    columns, so the table keeps the structures. It is called ``smiles``, or ``rdkit_smiles``
    when a record already has a property called ``smiles`` (any case); SD output keeps the records
    themselves instead.

:func:`pandas_metadata` keeps a pandas-written Parquet input's ``pandas`` schema metadata, with
entries for the added columns, so that ``pd.read_parquet`` of the output restores the index.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pyarrow as pa

from molood.exceptions import MoloodInputError
from molood.io.formats import Format, detect_format, find_smiles_column
from molood.io.readers import count_rows, csv_header, parquet_file, read_batches

__all__ = ["InputPlan", "plan_input", "pandas_metadata", "SD_TITLE", "SD_SMILES_NAMES"]

_TEXT = pa.string()

SD_TITLE = "_Name"
"""The column of an SD record's title line (RDKit's name for it)."""

SD_SMILES_NAMES = ("smiles", "rdkit_smiles")
"""Names tried, in order, for the canonical-SMILES column of SD records in a table output; the
first that no record's property has (case-insensitively) is taken."""


@dataclass
class InputPlan:
    """What :func:`plan_input` found out about a library file."""

    fmt: Format
    fields: list[pa.Field]
    """columns carried to the output, in output order and under their output names (CSV,
    SMILES and SD columns as text), the added SD-structure column included"""
    smiles_col: str | None
    """the resolved SMILES column (tables) or None (SD files)"""
    rows: int | None
    """total rows when asked for (an estimate for CSV/SMILES files: progress bars only)"""
    id_col: str | None = None
    """the output's ID column (first column), if there is one"""
    renames: dict[str, str] = field(default_factory=dict)
    """input column -> output column name (the SD title or SMILES name field under --id-col)"""
    structure_smiles: str | None = None
    """name of the added canonical-SMILES column of SD records (table output only)"""
    pandas: dict | None = None
    """a Parquet input's ``pandas`` schema metadata"""


def plan_input(path: str, smiles_col: str | None, want_count: bool, *,
               id_col: str | None = None, table_output: bool = True) -> InputPlan:
    """Plan the screening of ``path`` (see the module docstring). ``table_output``: the output
    is a table (Parquet/CSV/TSV), not an SD file. Raises MoloodInputError for a missing SMILES
    or ID column, and for an empty (0-byte) CSV/TSV file or a damaged one."""
    fmt = detect_format(path)
    if fmt == "parquet":
        pf = parquet_file(path)
        col = find_smiles_column(pf.schema_arrow.names, smiles_col, source=path)
        fields = [f.remove_metadata() if f.metadata else f for f in pf.schema_arrow]
        plan = InputPlan(fmt, fields, col, pf.metadata.num_rows,
                         pandas=pf.schema_arrow.pandas_metadata)
        return _table_id(plan, id_col, path)
    if fmt in ("csv", "tsv"):
        names = csv_header(path, fmt)
        col = find_smiles_column(names, smiles_col, source=path)
        rows = count_rows(path, exact=False) if want_count else None
        return _table_id(InputPlan(fmt, [pa.field(n, _TEXT) for n in names], col, rows),
                         id_col, path)
    if fmt == "smi":
        if smiles_col not in (None, "smiles"):
            raise MoloodInputError(f"{path}: a .smi file has the columns ['smiles', 'name']; "
                                   f"no column {smiles_col!r}")
        rows = count_rows(path, exact=False) if want_count else None
        if id_col in (None, "name"):
            return InputPlan(fmt, [pa.field("smiles", _TEXT), pa.field("name", _TEXT)],
                             "smiles", rows, id_col=id_col)
        if id_col == "smiles":
            raise MoloodInputError(f"{path}: the ID column of a .smi file names its second "
                                   f"field; it cannot be called 'smiles'")
        return InputPlan(fmt, [pa.field(id_col, _TEXT), pa.field("smiles", _TEXT)], "smiles",
                         rows, id_col=id_col, renames={"name": id_col})
    return _plan_sdf(path, id_col, table_output)


def _table_id(plan: InputPlan, id_col: str | None, path: str) -> InputPlan:
    """A table's ID column: an existing column, moved to the front."""
    if id_col is None:
        return plan
    names = [f.name for f in plan.fields]
    if id_col not in names:
        raise MoloodInputError(f"{path}: no column {id_col!r} for the ID column (--id-col, "
                               f"Python: id_col=); columns are {names}")
    plan.fields = ([plan.fields[names.index(id_col)]]
                   + [f for f in plan.fields if f.name != id_col])
    plan.id_col = id_col
    return plan


def _plan_sdf(path: str, id_col: str | None, table_output: bool) -> InputPlan:
    """SD file: the property names of all records (a record may lack some), the row count, the
    ID column and the structure column."""
    props: dict[str, None] = {}
    rows = 0
    for b in read_batches(path, batch_size=5_000):
        props.update(dict.fromkeys(str(c) for c in b.columns.columns if c != SD_TITLE))
        rows += len(b)
    renames: dict[str, str] = {}
    if id_col is None or id_col == SD_TITLE:
        id_name, rest = SD_TITLE, list(props)
    elif id_col in props:  # a property identifies the records; the title stays as _Name
        id_name, rest = id_col, [SD_TITLE] + [p for p in props if p != id_col]
    else:  # the title line, under the name asked for
        id_name, rest = id_col, list(props)
        renames[SD_TITLE] = id_col
    structure = None
    if table_output:
        taken = {n.lower() for n in [id_name, *rest]}
        structure = next((n for n in SD_SMILES_NAMES if n not in taken), None)
        k = 2
        while structure is None:  # every candidate is a property: number the last one
            cand = f"{SD_SMILES_NAMES[-1]}_{k}"
            structure, k = (cand if cand not in taken else None), k + 1
    names = [id_name] + rest + ([structure] if structure else [])
    return InputPlan("sdf", [pa.field(n, _TEXT) for n in names], None, rows,
                     id_col=None if id_col is None else id_name, renames=renames,
                     structure_smiles=structure)


def pandas_metadata(input_pandas: dict | None, carried: list[str], out_schema: pa.Schema
                    ) -> str | None:
    """The output's ``pandas`` schema metadata (JSON), or None if the input had none.

    The input's metadata (index columns, column index, creator) with one column entry per
    output column, in output order: the input's entry for a column ``carried`` over from the
    input, a new one (as pyarrow writes it for that Arrow type) for an added column. pandas
    then restores the input's index, named or range (a range index of the input's length
    stays valid: the output has the input's rows, in order).
    """
    if not input_pandas:
        return None
    entries = {c.get("field_name", c.get("name")): c for c in input_pandas.get("columns", [])}
    new = [f for f in out_schema if f.name not in carried or f.name not in entries]
    if new:
        empty = pa.schema(new).empty_table().to_pandas()
        generated = pa.Table.from_pandas(empty, preserve_index=False).schema.pandas_metadata
        entries.update({c["field_name"]: c for c in generated["columns"]})
    md = dict(input_pandas, columns=[entries[f.name] for f in out_schema])
    return json.dumps(md)
