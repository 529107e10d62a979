"""Library file formats: which format a file name means, and which column holds the SMILES.

The one table of supported suffixes (:data:`SUFFIXES`) and the one rule for finding a table's
SMILES column (:func:`find_smiles_column`), shared by the readers, the writers, the screening
engine and the ``DataFrame.molood`` accessor. Also the opener of (optionally gzipped) files.
Standard library only.
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path
from typing import IO, Literal, Sequence

from molood.exceptions import MoloodInputError

__all__ = [
    "Format",
    "SUFFIXES",
    "SMILES_COLUMN_CANDIDATES",
    "detect_format",
    "delimiter",
    "find_smiles_column",
    "is_gzip",
    "open_binary",
    "open_text",
]

Format = Literal["parquet", "csv", "tsv", "smi", "sdf"]

#: file-name suffix (lower case) -> format
SUFFIXES: dict[str, Format] = {
    ".parquet": "parquet", ".pq": "parquet",
    ".csv": "csv", ".csv.gz": "csv",
    ".tsv": "tsv", ".tsv.gz": "tsv",
    ".smi": "smi", ".smi.gz": "smi", ".smiles": "smi", ".smiles.gz": "smi",
    ".sdf": "sdf", ".sdf.gz": "sdf", ".sd": "sdf", ".sd.gz": "sdf",
}

#: column names recognised as the SMILES column, in priority order (case-insensitive)
SMILES_COLUMN_CANDIDATES = ("smiles", "canonical_smiles", "mol")


def detect_format(path: str | os.PathLike) -> Format:
    """File format from the file name (case-insensitive); raises MoloodInputError if unknown."""
    name = Path(path).name.lower()
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return SUFFIXES[suffix]
    raise MoloodInputError(
        f"{os.fspath(path)!r}: unknown file type; supported extensions are "
        f"{', '.join(sorted(SUFFIXES))}")


def delimiter(fmt: Format) -> str:
    """Field separator of a delimited-text format (``"\\t"`` for TSV, else ``","``)."""
    return "\t" if fmt == "tsv" else ","


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


def is_gzip(path: str | os.PathLike) -> bool:
    """Whether the file name says gzip (``.gz``, any case)."""
    return os.fspath(path).lower().endswith(".gz")


def open_binary(path: str | os.PathLike) -> IO[bytes]:
    """The file's bytes for reading, decompressed when it is a ``.gz`` file."""
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def open_text(path: str | os.PathLike) -> IO[str]:
    """The file as UTF-8 text (undecodable bytes replaced, universal newlines), ``.gz`` ok."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8", errors="replace", newline=None)
