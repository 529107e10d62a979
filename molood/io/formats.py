"""Library file formats: which format a file name means, and which column holds the SMILES.

The one table of supported suffixes (:data:`SUFFIXES`, and the writable subset
:data:`WRITABLE_FORMATS`) and the one rule for finding a table's SMILES column
(:func:`find_smiles_column`), shared by the readers, the writers, the screening engine and the
``DataFrame.molood`` accessor. Also the opener of (optionally gzipped) files and
:func:`read_errors`, which turns what a damaged file makes the decompressors and pyarrow raise
(truncated ``.gz``, corrupt Parquet) into a :class:`MoloodInputError` that names the file.
Standard library only (pyarrow's exceptions are recognised without importing it).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import zlib
from pathlib import Path
from typing import IO, Iterable, Iterator, Literal, Sequence, TypeVar

from molood.exceptions import MoloodInputError

__all__ = [
    "Format",
    "SUFFIXES",
    "SMILES_COLUMN_CANDIDATES",
    "detect_format",
    "delimiter",
    "find_smiles_column",
    "WRITABLE_FORMATS",
    "detect_output_format",
    "writable_suffixes",
    "is_gzip",
    "open_binary",
    "open_text",
    "read_errors",
    "guard_reads",
]

T = TypeVar("T")

Format = Literal["parquet", "csv", "tsv", "smi", "sdf"]

#: file-name suffix (lower case) -> format
SUFFIXES: dict[str, Format] = {
    ".parquet": "parquet", ".pq": "parquet",
    ".csv": "csv", ".csv.gz": "csv",
    ".tsv": "tsv", ".tsv.gz": "tsv",
    ".smi": "smi", ".smi.gz": "smi", ".smiles": "smi", ".smiles.gz": "smi",
    ".sdf": "sdf", ".sdf.gz": "sdf", ".sd": "sdf", ".sd.gz": "sdf",
}

#: formats that :func:`molood.io.writers.open_writer` (and so ``screen``) can write: SMILES
#: files are read-only (a result needs more columns than ``SMILES name``)
WRITABLE_FORMATS: tuple[Format, ...] = ("parquet", "csv", "tsv", "sdf")

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


def writable_suffixes() -> str:
    """The output file types as a user reads them: ``.parquet, .pq, .csv[.gz], ...``."""
    out: list[str] = []
    for suffix, fmt in SUFFIXES.items():
        if fmt not in WRITABLE_FORMATS or suffix.endswith(".gz"):
            continue
        out.append(suffix + ("[.gz]" if suffix + ".gz" in SUFFIXES else ""))
    return ", ".join(out)


def detect_output_format(path: str | os.PathLike) -> Format:
    """Format of an output file from its name; raises MoloodInputError, listing the writable
    file types, for an unknown or read-only (SMILES) one."""
    try:
        fmt = detect_format(path)
    except MoloodInputError:
        fmt = None
    if fmt not in WRITABLE_FORMATS:
        what = ("cannot write .smi (SMILES files are input only)" if fmt == "smi"
                else "unknown file type")
        raise MoloodInputError(f"{os.fspath(path)!r}: {what}; writable file types are "
                               f"{writable_suffixes()}")
    return fmt


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
        f"case); columns are {columns}. Name the column with --smiles-col (Python: smiles_col=)")


def is_gzip(path: str | os.PathLike) -> bool:
    """Whether the file name says gzip (``.gz``, any case)."""
    return os.fspath(path).lower().endswith(".gz")


def open_binary(path: str | os.PathLike) -> IO[bytes]:
    """The file's bytes for reading, decompressed when it is a ``.gz`` file."""
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def open_text(path: str | os.PathLike) -> IO[str]:
    """The file as UTF-8 text (undecodable bytes replaced, universal newlines), ``.gz`` ok."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8", errors="replace", newline=None)


def _what_went_wrong(exc: BaseException) -> str:
    """A reader's words for what a decompressor or pyarrow found wrong with a file."""
    text = str(exc)
    low = text.lower()
    if isinstance(exc, EOFError) or "truncated" in low or "end-of-stream" in low:
        return f"the file is truncated (its compressed data ends early: {text})"
    if isinstance(exc, (gzip.BadGzipFile, zlib.error)) or "inflate" in low or "zlib" in low:
        return f"the compressed data is corrupt ({text})"
    if "parquet" in low or "magic bytes" in low or "thrift" in low or "snappy" in low:
        return f"not a readable Parquet file: it is corrupt or truncated ({text})"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _is_read_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a damaged file's error (not a missing file, not a molood error)."""
    if isinstance(exc, (FileNotFoundError, MoloodInputError)):
        return False
    if isinstance(exc, (OSError, EOFError, zlib.error)):
        return True
    # pyarrow's ArrowException (ArrowInvalid for a corrupt footer), without importing pyarrow
    return any(c.__name__ == "ArrowException" and c.__module__.startswith("pyarrow")
               for c in type(exc).__mro__)


@contextlib.contextmanager
def read_errors(path: str | os.PathLike) -> Iterator[None]:
    """Turn the errors of reading a damaged input file inside the block (truncated or corrupt
    ``.gz`` data, a corrupt Parquet file, an I/O error) into a :class:`MoloodInputError`
    ``"<path>: cannot read: <what is wrong>"``. A missing file stays ``FileNotFoundError``;
    molood's own errors, Ctrl-C and anything that is not an error of reading pass unchanged.
    """
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - filtered by _is_read_error
        if not _is_read_error(exc):
            raise
        raise MoloodInputError(f"{os.fspath(path)}: cannot read: {_what_went_wrong(exc)}"
                               ) from exc


def guard_reads(path: str | os.PathLike, items: Iterable[T]) -> Iterator[T]:
    """``items`` (a lazy reader), with :func:`read_errors` around every step of reading, so that
    damage found half-way through a file is reported like damage found at its start."""
    with read_errors(path):
        yield from items
