"""molood.io.formats: file formats from names, the SMILES column rule, (gzipped) openers."""

from __future__ import annotations

import gzip
import re

import pytest

from molood.exceptions import MoloodInputError
from molood.io.formats import (
    detect_format,
    detect_output_format,
    find_smiles_column,
    open_text,
    writable_suffixes,
)
from molood.io.readers import read_batches


def test_detect_format_and_unknown_extension(tmp_path):
    assert detect_format("a/B.CSV.GZ") == "csv"
    assert detect_format("x.sdf.gz") == "sdf"
    assert detect_format("x.parquet") == "parquet"
    p = tmp_path / "lib.xlsx"
    p.write_text("smiles\nCCO\n")
    with pytest.raises(MoloodInputError, match="unknown file type.*\\.csv"):
        read_batches(p)


def test_output_formats_are_the_writable_ones(tmp_path):
    """SMILES files are input only: an output named .smi (or unknown) is refused with the list
    of writable file types, by the format check and by the writer itself."""
    from molood.io.writers import open_writer

    assert writable_suffixes() == ".parquet, .pq, .csv[.gz], .tsv[.gz], .sdf[.gz], .sd[.gz]"
    assert detect_output_format("x.CSV.gz") == "csv" and detect_output_format("x.sd") == "sdf"
    for name, why in (("x.smi", "cannot write .smi (SMILES files are input only)"),
                      ("x.smiles.gz", "cannot write .smi"), ("x.xlsx", "unknown file type")):
        with pytest.raises(MoloodInputError, match=rf"{name}'?: {re.escape(why)}.*writable "
                                                   rf"file types are \.parquet"):
            detect_output_format(tmp_path / name)
    with pytest.raises(MoloodInputError, match="writable file types"):
        open_writer(tmp_path / "x.smi")
    assert list(tmp_path.iterdir()) == []


def test_smiles_column_detection():
    assert find_smiles_column(["id", "SMILES"]) == "SMILES"
    assert find_smiles_column(["Canonical_Smiles", "x"]) == "Canonical_Smiles"
    assert find_smiles_column(["mol", "smiles"]) == "smiles"  # priority order
    assert find_smiles_column(["a", "b"], smiles_col="b") == "b"
    with pytest.raises(MoloodInputError, match=r"columns are \['id', 'structure'\]"):
        find_smiles_column(["id", "structure"])


def test_missing_column_message(tmp_path):
    p = tmp_path / "lib.csv"
    p.write_text("id,structure\n1,CCO\n")
    with pytest.raises(MoloodInputError, match=r"no SMILES column.*'id', 'structure'"):
        read_batches(p)  # raised eagerly, before iterating
    with pytest.raises(MoloodInputError, match=r"no column 'smi'.*'id', 'structure'"):
        read_batches(p, smiles_col="smi")


def test_open_text_reads_gzip_and_plain_alike(tmp_path):
    plain, gz = tmp_path / "a.smi", tmp_path / "a.smi.GZ"
    plain.write_bytes(b"CCO x\r\nC\xff\n")
    with gzip.open(gz, "wb") as fh:
        fh.write(plain.read_bytes())
    for p in (plain, gz):
        with open_text(p) as fh:
            assert fh.read() == "CCO x\nC\ufffd\n"  # universal newlines, bad bytes replaced
