"""Tests for molood.io.readers: streaming readers (alignment, resume, formats) and atomic writers."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from molood.io.readers import (
    EMPTY_MOLBLOCK,
    MoloodInputError,
    count_rows,
    detect_format,
    find_smiles_column,
    open_writer,
    read_batches,
)

DATA = Path(__file__).resolve().parent / "data"
REPO = Path(__file__).resolve().parents[1]


def _all(path, **kw):
    return list(read_batches(path, **kw))


def _errors(batches):
    out = []
    for b in batches:
        out += b.to_arrays()[1]
    return out


# ---------------------------------------------------------------------- format / column
def test_detect_format_and_unknown_extension(tmp_path):
    assert detect_format("a/B.CSV.GZ") == "csv"
    assert detect_format("x.sdf.gz") == "sdf"
    assert detect_format("x.parquet") == "parquet"
    p = tmp_path / "lib.xlsx"
    p.write_text("smiles\nCCO\n")
    with pytest.raises(MoloodInputError, match="unknown file type.*\\.csv"):
        read_batches(p)


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


# ---------------------------------------------------------------------- CSV
def test_csv_bad_rows_stay_aligned():
    batches = _all(DATA / "bad_rows.csv", batch_size=3)
    assert [len(b) for b in batches] == [3, 3, 2]
    rows = np.concatenate([b.row_index for b in batches])
    np.testing.assert_array_equal(rows, np.arange(8))
    df = pd.concat([b.columns for b in batches], ignore_index=True)
    assert df["id"].tolist() == [f"m{i}" for i in range(8)]
    assert df["value"].dtype == np.float64  # original dtypes kept
    err = _errors(batches)
    assert err[0] is None and err[3] is None and err[5] is None and err[7] is None
    assert err[1].startswith("invalid_smiles") and err[4].startswith("invalid_smiles")
    assert err[2] == "empty"  # empty cell
    assert err[6].startswith("invalid_smiles: Explicit valence")
    assert batches[0].smiles[2] in ("", None)


def test_csv_gzip_and_resume(tmp_path):
    src = DATA / "bad_rows.csv"
    gz = tmp_path / "lib.csv.gz"
    with open(src, "rb") as f, gzip.open(gz, "wb") as g:
        shutil.copyfileobj(f, g)
    full = _all(gz, batch_size=100)
    assert len(full) == 1 and len(full[0]) == 8
    part = _all(gz, batch_size=2, start_row=5)
    np.testing.assert_array_equal(np.concatenate([b.row_index for b in part]), [5, 6, 7])
    assert pd.concat([b.columns for b in part])["id"].tolist() == ["m5", "m6", "m7"]


def test_csv_empty_and_header_only(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert _all(empty) == []
    header = tmp_path / "header.csv"
    header.write_text("id,smiles\n")
    assert sum(len(b) for b in _all(header)) == 0


def test_csv_type_change_has_clear_message(tmp_path, monkeypatch):
    import molood.io.readers

    monkeypatch.setattr(molood.io.readers, "_CSV_BLOCK_SIZE", 1 << 14)  # several blocks
    p = tmp_path / "lib.csv"
    lines = ["smiles,score"] + [f"C,{i}" for i in range(20000)] + ["C,not_a_number"]
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(MoloodInputError, match="infer_types=False"):
        _all(p, batch_size=5000)
    batches = _all(p, batch_size=5000, infer_types=False)
    assert sum(len(b) for b in batches) == 20001
    assert batches[-1].columns["score"].iloc[-1] == "not_a_number"


def test_smiles_column_of_numbers_is_text(tmp_path):
    p = tmp_path / "lib.csv"
    p.write_text("smiles,id\n1,a\nC,b\n")
    (b,) = _all(p)
    assert b.smiles == ["1", "C"]
    assert b.to_arrays()[1][0].startswith("invalid_smiles")


# ---------------------------------------------------------------------- Parquet
def test_parquet_streams_by_batch_and_resumes(tmp_path):
    df = pd.read_parquet(REPO / "data" / "chembl_approved_drugs.parquet")
    p = tmp_path / "lib.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), p, row_group_size=500)
    n = len(df)
    assert count_rows(p) == n
    batches = _all(p, batch_size=1000)
    assert [len(b) for b in batches] == [1000] * (n // 1000) + [n % 1000]
    got = pd.concat([b.columns for b in batches], ignore_index=True)
    pd.testing.assert_frame_equal(got, df.reset_index(drop=True))
    # resume inside the 3rd row group: row-group arithmetic + slice
    res = _all(p, batch_size=300, start_row=1234)
    rows = np.concatenate([b.row_index for b in res])
    np.testing.assert_array_equal(rows, np.arange(1234, n))
    assert pd.concat([b.columns for b in res])["smiles"].tolist() == df["smiles"].tolist()[1234:]
    assert _all(p, start_row=n) == []


def test_parquet_null_smiles_and_empty_file(tmp_path):
    p = tmp_path / "lib.parquet"
    pq.write_table(pa.table({"SMILES": ["CCO", None, "C1CC"], "k": [1, 2, 3]}), p)
    (b,) = _all(p)
    assert b.columns["k"].tolist() == [1, 2, 3]
    err = b.to_arrays()[1]
    assert err[0] is None and err[1] == "empty" and err[2].startswith("invalid_smiles")
    e = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"smiles": pa.array([], pa.string())}), e)
    assert _all(e) == []


# ---------------------------------------------------------------------- SMI
def test_smi_reader(tmp_path):
    p = tmp_path / "lib.smi"
    p.write_text("SMILES Name\nCCO ethanol\n\nC1CC broken ring\nc1ccccc1\n")
    batches = _all(p, batch_size=2)
    df = pd.concat([b.columns for b in batches], ignore_index=True)
    assert df["smiles"].tolist() == ["CCO", "C1CC", "c1ccccc1"]
    assert df["name"].tolist() == ["ethanol", "broken ring", None]
    assert np.concatenate([b.row_index for b in batches]).tolist() == [0, 1, 2]
    err = _errors(batches)
    assert err[0] is None and err[1].startswith("invalid_smiles") and err[2] is None
    assert [b.row_index.tolist() for b in _all(p, start_row=1)] == [[1, 2]]


# ---------------------------------------------------------------------- SDF
def test_sdf_broken_record_is_an_error_row(capfd):
    batches = _all(DATA / "small.sdf", batch_size=3)
    assert [len(b) for b in batches] == [3, 1]
    assert all(b.kind == "molblock" for b in batches)
    df = pd.concat([b.columns for b in batches], ignore_index=True)
    assert df["_Name"].tolist() == ["ethanol", "broken", "salt", "benzene"]
    assert df["id"].tolist() == ["A1", "A2", "A3", "A4"]  # broken record keeps its properties
    assert df["activity"].tolist()[:2] == ["1.5", "2.0"] and pd.isna(df["activity"][2])
    assert df["note"][3] == "two\nlines"
    err = _errors(batches)
    assert err[0] is None and err[2] is None and err[3] is None
    assert err[1].startswith("sdf_parse_error: ") and "Xx" in err[1]
    assert "Xx" not in capfd.readouterr().err  # RDKit log captured, not printed
    ga, _ = batches[0].to_arrays()
    assert ga.num_nodes.tolist() == [3, 5]
    mols, merr = batches[0].mols()
    assert mols[1] is None and merr == err[:3]


def test_sdf_gzip_truncated_last_record_and_resume(tmp_path):
    text = (DATA / "small.sdf").read_text()
    truncated = text + "trunc\n     RDKit\n\n  2  1  0  0  0  0  0  0  0  0999 V2000\n"
    gz = tmp_path / "lib.sdf.gz"
    with gzip.open(gz, "wt") as f:
        f.write(truncated)
    batches = _all(gz, batch_size=10)
    assert len(batches[0]) == 5
    err = batches[0].to_arrays()[1]
    assert err[4].startswith("sdf_parse_error")
    assert _all(gz, start_row=3)[0].row_index.tolist() == [3, 4]


# ---------------------------------------------------------------------- writers
def test_parquet_writer_metadata_and_atomic(tmp_path):
    out = tmp_path / "out.parquet"
    with open_writer(out, metadata={"molood_version": "0.1.0", "model": "m"}) as w:
        w.write(pd.DataFrame({"smiles": ["CCO", "C"], "ood_score": [0.1, 0.2]}))
        assert not out.exists() and (tmp_path / "out.parquet.part").exists()
        w.write(pd.DataFrame({"smiles": ["N"], "ood_score": [0.3]}))
    assert not (tmp_path / "out.parquet.part").exists()
    t = pq.read_table(out)
    assert t.column("ood_score").to_pylist() == [0.1, 0.2, 0.3]
    md = t.schema.metadata
    assert md[b"molood_version"] == b"0.1.0" and md[b"model"] == b"m"


@pytest.mark.parametrize("name", ["out.parquet", "out.csv", "out.csv.gz", "out.sdf"])
def test_writer_exception_leaves_nothing(tmp_path, name):
    out = tmp_path / name
    with pytest.raises(RuntimeError, match="boom"):
        with open_writer(out) as w:
            w.write(pd.DataFrame({"smiles": ["CCO"], "s": [1.0]}))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    w = open_writer(out)
    w.write(pd.DataFrame({"smiles": ["CCO"], "s": [1.0]}))
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_csv_writer_roundtrip_and_alignment(tmp_path):
    out = tmp_path / "out.csv"
    with open_writer(out) as w:
        w.write(pd.DataFrame({"smiles": ["CCO", None], "ood_score": [0.5, np.nan]}))
        w.write(pd.DataFrame({"ood_score": [0.7], "smiles": ["C"], "extra": [1]}))
    df = pd.read_csv(out)
    assert df.columns.tolist() == ["smiles", "ood_score"]
    assert df["smiles"].tolist()[::2] == ["CCO", "C"] and df["ood_score"].tolist()[2] == 0.7


def test_empty_outputs_are_valid(tmp_path):
    with open_writer(tmp_path / "e.parquet", columns=["smiles", "ood_score"]):
        pass
    assert pq.read_table(tmp_path / "e.parquet").column_names == ["smiles", "ood_score"]
    with open_writer(tmp_path / "e.csv", columns=["smiles", "ood_score"]):
        pass
    assert (tmp_path / "e.csv").read_text().strip() == "smiles,ood_score"


def test_sdf_in_sdf_out_keeps_every_record(tmp_path):
    out = tmp_path / "out.sdf"
    with open_writer(out) as w:
        for b in read_batches(DATA / "small.sdf", batch_size=3):
            _, err = b.to_arrays()
            df = b.columns.assign(ood_error=err, ood_score=[0.5] * len(b))
            w.write(df, molblocks=b.molblocks)
    back = _all(out)
    df = back[0].columns
    assert df["_Name"].tolist() == ["ethanol", "broken", "salt", "benzene"]
    assert df["id"].tolist() == ["A1", "A2", "A3", "A4"]
    assert df["ood_score"].tolist() == ["0.5"] * 4
    assert df["ood_error"][1].startswith("sdf_parse_error") and pd.isna(df["ood_error"][0])
    assert df["note"][3] == "two\nlines"
    # the broken record's mol block is re-emitted verbatim (still broken, still a row)
    assert back[0].molblocks[1] == _all(DATA / "small.sdf")[0].molblocks[1]


def test_sdf_out_from_smiles_with_invalid_rows(tmp_path):
    out = tmp_path / "out.sdf"
    with open_writer(out) as w:
        w.write(pd.DataFrame({"smiles": ["CCO", "C1CC", None], "id": ["a", "b", "c"]}))
    (b,) = _all(out)
    assert b.columns["id"].tolist() == ["a", "b", "c"]
    assert b.columns["smiles"].tolist()[:2] == ["CCO", "C1CC"]
    err = b.to_arrays()[1]
    assert err == [None, "empty", "empty"]  # invalid rows are 0-atom records
    assert b.molblocks[1].endswith(EMPTY_MOLBLOCK.split("\n", 1)[1])
