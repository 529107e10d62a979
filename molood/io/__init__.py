"""Library files: format detection (:mod:`.formats`), streaming readers (:mod:`.readers`, with
the line-based formats in :mod:`.text` and the batch they yield in :mod:`.batch`) and atomic
writers (:mod:`.writers`) for Parquet, CSV/TSV, SMILES and SD files. No torch, no RDKit
at import (RDKit is imported when a batch is parsed or an SD record is built from a SMILES).
"""

from __future__ import annotations

from molood.exceptions import MoloodInputError
from molood.io.batch import MolBatch
from molood.io.formats import (
    SMILES_COLUMN_CANDIDATES,
    SUFFIXES,
    WRITABLE_FORMATS,
    Format,
    detect_format,
    detect_output_format,
    find_smiles_column,
)
from molood.io.readers import count_rows, csv_columns, parquet_file, read_batches
from molood.io.writers import EMPTY_MOLBLOCK, Writer, open_writer

__all__ = [
    "MoloodInputError",
    "Format",
    "SUFFIXES",
    "WRITABLE_FORMATS",
    "SMILES_COLUMN_CANDIDATES",
    "detect_format",
    "detect_output_format",
    "find_smiles_column",
    "MolBatch",
    "read_batches",
    "csv_columns",
    "parquet_file",
    "count_rows",
    "Writer",
    "open_writer",
    "EMPTY_MOLBLOCK",
]
