"""Readers of the line-based library formats: SMILES files and SD files (``.gz`` ok).

Both stream the file line by line through :func:`molood.io.formats.open_text` and yield
:class:`~molood.io.batch.MolBatch` es; :func:`molood.io.readers.read_batches` dispatches to them
(and reports a damaged file). A SMILES file is ``SMILES [name]`` per line, with an optional
header line starting with ``smiles``/``smi``; a 0-byte SMILES file is a valid library of no
rows (the format has no required header). An SD file is ``$$$$``-terminated records; every
record is one row, a broken one included (it is reported when parsed); a file with no record
is a library of no rows.
"""

from __future__ import annotations

from typing import Iterator

import pandas as pd

from molood.io.batch import MolBatch, make_batch
from molood.io.formats import open_text

__all__ = ["read_smi", "read_sdf", "split_sd_record", "sd_records"]


def read_smi(path: str, batch_size: int, start_row: int) -> Iterator[MolBatch]:
    """The rows of a SMILES file from ``start_row`` on: columns ``smiles`` and ``name``."""
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
                    yield make_batch(row + 1, pd.DataFrame({"smiles": smiles, "name": names}),
                                 smiles)
                    smiles, names = [], []
            row += 1
    if smiles:
        yield make_batch(row, pd.DataFrame({"smiles": smiles, "name": names}), smiles)


def split_sd_record(lines: list[str]) -> tuple[str, dict[str, str]]:
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


def sd_records(path: str) -> Iterator[list[str]]:
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


def read_sdf(path: str, batch_size: int, start_row: int) -> Iterator[MolBatch]:
    """The records of an SD file from ``start_row`` on: mol blocks, and columns ``_Name``
    (the title line) and every SD property, as text."""
    blocks: list[str | None] = []
    recs: list[dict[str, str]] = []

    def batch(stop: int) -> MolBatch:
        df = pd.DataFrame.from_records(recs) if recs else pd.DataFrame()
        return make_batch(stop, df, [None] * len(blocks), blocks)

    row = -1
    for row, lines in enumerate(sd_records(path)):
        if row < start_row:
            continue
        block, props = split_sd_record(lines)
        blocks.append(block)
        recs.append({"_Name": lines[0].strip() if lines else "", **props})
        if len(blocks) == batch_size:
            yield batch(row + 1)
            blocks, recs = [], []
    if blocks:
        yield batch(row + 1)
