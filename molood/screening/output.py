"""The output side of :func:`~molood.screening.engine.screen`: result tables and the output file.

:func:`output_schemas` fixes the columns of the output (the input's, then the result
columns: score, p-value, flag, status and, unless switched off, the SMILES scored) and of the
work directory's parts; :func:`chunk_table` turns a scored chunk into a part;
:class:`ResultWriter` streams parts into the output file, counting rows, scores and flags.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pyarrow as pa

from molood.detectors.calibration import ood_flags
from molood.io.readers import MolBatch
from molood.io.writers import open_writer
from molood.screening.columns import (
    EVIDENCE_FLOAT,
    EVIDENCE_OUTPUT_COLUMNS,
    IS_OOD_COLUMN,
    OUTPUT_COLUMNS,
    PVALUE_COLUMN,
    SCORE_COLUMN,
    SMILES_COLUMN,
    STATUS_COLUMN,
    evidence_column,
)
from molood.screening.models import ModelInfo
from molood.screening.scoring import ScoredRows

__all__ = ["MOLBLOCK_COLUMN", "RESULT_FIELDS", "output_schemas", "evidence_fields", "chunk_table",
           "ResultWriter"]

logger = logging.getLogger(__name__)

MOLBLOCK_COLUMN = "__molood_molblock"
"""SD in -> SD out: each record's structure, kept in the parts only (not an output column)."""

RESULT_FIELDS = [pa.field(SCORE_COLUMN, pa.float64()), pa.field(PVALUE_COLUMN, pa.float64()),
                 pa.field(IS_OOD_COLUMN, pa.bool_()), pa.field(STATUS_COLUMN, pa.string()),
                 pa.field(SMILES_COLUMN, pa.string())]


def evidence_fields(names: tuple[str, ...]) -> list[pa.Field]:
    """The output fields of a detector's evidence ``names`` (``molood_<name>``)."""
    return [pa.field(evidence_column(n), pa.float64() if n in EVIDENCE_FLOAT else pa.string())
            for n in names]


def output_schemas(input_fields: list[pa.Field], keep_molblocks: bool, source: str,
                   smiles_column: bool = True, evidence: tuple[str, ...] = ()
                   ) -> tuple[list[pa.Field], pa.Schema, pa.Schema]:
    """(input fields carried over, output schema, part schema).

    Input columns named like a result column are dropped (with a warning naming ``source``):
    screening a screened file replaces its results. ``smiles_column=False`` leaves out
    ``molood_smiles`` (wide libraries: it is the largest result column). ``evidence``: the
    model's evidence names, written after the result columns.
    """
    fields = [f for f in input_fields
              if f.name not in OUTPUT_COLUMNS and f.name not in EVIDENCE_OUTPUT_COLUMNS]
    if len(fields) < len(input_fields):
        logger.warning("%s already has molood result columns; they are replaced", source)
    results = [f for f in RESULT_FIELDS if smiles_column or f.name != SMILES_COLUMN]
    results += evidence_fields(evidence)
    out_schema = pa.schema(fields + results)
    part_schema = (out_schema.append(pa.field(MOLBLOCK_COLUMN, pa.string())) if keep_molblocks
                   else out_schema)
    return fields, out_schema, part_schema


def chunk_table(batch: MolBatch, rows: ScoredRows, model: ModelInfo, fpr: float,
                fields: list[pa.Field], schema: pa.Schema) -> pa.Table:
    """A scored chunk as a part: its input columns, the result columns (null where not
    scored; ``molood_smiles`` when ``schema`` has it) and, when ``schema`` has it, the
    records' mol blocks."""
    n = len(batch)
    scores = rows.scores
    df = batch.columns
    arrays = [pa.Array.from_pandas(df[f.name], type=f.type) if f.name in df.columns
              else pa.nulls(n, f.type) for f in fields]
    ok = ~np.isnan(scores)
    pvalues = model.pvalues(scores)
    arrays.append(pa.array(scores, type=pa.float64(), mask=~ok))
    arrays.append(pa.array(pvalues, type=pa.float64(), mask=~ok))
    arrays.append(pa.array(ood_flags(pvalues, fpr), type=pa.bool_(), mask=~ok))
    arrays.append(pa.array(rows.status, type=pa.string()))
    if SMILES_COLUMN in schema.names:
        arrays.append(pa.array(rows.smiles, type=pa.string()))
    for name in model.evidence:
        field = schema.field(evidence_column(name))
        arrays.append(pa.array(rows.evidence[name], type=field.type))  # type: ignore[index]
    if MOLBLOCK_COLUMN in schema.names:
        arrays.append(pa.array(batch.molblocks, type=pa.string()))
    return pa.Table.from_arrays(arrays, schema=schema)


class ResultWriter:
    """The output file of a screen (streamed and atomic, :func:`~molood.io.writers.open_writer`)
    with running counts of the rows written (progress is the engine's,
    :mod:`molood.screening.progress`)."""

    def __init__(self, path: str, schema: pa.Schema, metadata: dict[str, str],
                 smiles_col: str | None) -> None:
        self.rows = self.scored = self.flagged = 0
        self._writer = open_writer(path, columns=schema.names, metadata=metadata,
                                   schema=schema, smiles_col=smiles_col)

    def write(self, table: pa.Table) -> None:
        """Append a part (the mol-block column, if any, becomes the SD records' structures)."""
        import pyarrow.compute as pc

        self.rows += table.num_rows
        self.scored += table.num_rows - table.column(SCORE_COLUMN).null_count
        self.flagged += int(pc.sum(table.column(IS_OOD_COLUMN)).as_py() or 0)
        blocks = None
        if MOLBLOCK_COLUMN in table.column_names:
            blocks = table.column(MOLBLOCK_COLUMN).to_pylist()
            table = table.drop_columns([MOLBLOCK_COLUMN])
        self._writer.write(table.to_pandas(types_mapper=pd.ArrowDtype), molblocks=blocks)

    def close(self) -> None:
        """Finish the output file and move it into place."""
        self._writer.close()

    def abort(self) -> None:
        """Discard the output file; nothing appears at its path."""
        self._writer.abort()
