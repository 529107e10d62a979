"""molood.io.readers: streaming readers (alignment, resume, every format), row counts, headers."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from molood.exceptions import MoloodInputError
from molood.io.readers import count_rows, csv_columns, read_batches

DATA = Path(__file__).resolve().parents[1] / "data"
REPO = Path(__file__).resolve().parents[2]


def _all(path, **kw):
    return list(read_batches(path, **kw))


def _errors(batches):
    out = []
    for b in batches:
        out += b.to_arrays()[1]
    return out


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
    """A 0-byte CSV/TSV file (plain or gzipped) has no header, so no SMILES column: an error.
    A header with no rows is an empty library, as are an empty SMILES file (the format has no
    required header) and an SD file without records."""
    for name in ("empty.csv", "empty.tsv", "empty.csv.gz"):
        empty = tmp_path / name
        if name.endswith(".gz"):
            with gzip.open(empty, "wb"):
                pass
        else:
            empty.write_text("")
        with pytest.raises(MoloodInputError, match=f"{name}: the file is empty.*header line"):
            _all(empty)
    header = tmp_path / "header.csv"
    header.write_text("id,smiles\n")
    assert sum(len(b) for b in _all(header)) == 0
    for name in ("empty.smi", "empty.sdf"):
        (tmp_path / name).write_text("")
        assert _all(tmp_path / name) == []


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


# ---------------------------------------------------------------------- damaged files
def _truncated_gzip(path: Path, text: str, keep: float) -> Path:
    data = gzip.compress(text.encode())
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _big_csv(rows: int) -> str:
    return "id,smiles\n" + "".join(f"m{i},{'C' * (1 + i % 7)}O\n" for i in range(rows))


@pytest.mark.parametrize("name,make,where", [
    ("early.csv.gz", lambda p: _truncated_gzip(p, _big_csv(50), 0.5), "truncated"),
    ("late.csv.gz", lambda p: _truncated_gzip(p, _big_csv(400_000), 0.6), "truncated"),
    ("late.sdf.gz", lambda p: _truncated_gzip(p, (DATA / "small.sdf").read_text() * 400, 0.6),
     "truncated"),
    ("late.smi.gz", lambda p: _truncated_gzip(p, "CCO x\n" * 100_000, 0.6), "truncated"),
    ("plain.csv.gz", lambda p: p.write_text("id,smiles\n1,CCO\n"), "corrupt"),
    ("corrupt.parquet", lambda p: p.write_bytes(b"PAR1" + b"\0" * 100), "Parquet"),
    ("empty.parquet", lambda p: p.write_bytes(b""), "Parquet"),
])
def test_damaged_file_is_an_input_error_naming_it(tmp_path, monkeypatch, name, make, where):
    """A truncated or corrupt .gz stream and a corrupt Parquet file raise MoloodInputError with
    the file name and what is wrong, whether found when opening or half-way through (after
    batches were yielded); counting rows reports it the same way."""
    import molood.io.readers

    monkeypatch.setattr(molood.io.readers, "_CSV_BLOCK_SIZE", 1 << 14)  # several blocks
    path = tmp_path / name
    make(path)
    seen = []
    with pytest.raises(MoloodInputError) as info:
        for b in read_batches(path, batch_size=100):
            seen.append(len(b))
    msg = str(info.value)
    assert msg.startswith(f"{path}: cannot read: ") and where in msg, msg
    if name.startswith("late"):
        assert seen, "the damage is found after the first batches"
    with pytest.raises(MoloodInputError, match=f"{name}: cannot read"):
        count_rows(path)


def test_damaged_csv_header(tmp_path):
    path = _truncated_gzip(tmp_path / "x.csv.gz", _big_csv(10), 0.4)
    with pytest.raises(MoloodInputError, match="x.csv.gz: cannot read: the file is truncated"):
        csv_columns(path)


# ---------------------------------------------------------------------- counts and headers
def _gzip_copy(src: Path, dst: Path) -> Path:
    with open(src, "rb") as f, gzip.open(dst, "wb") as g:
        shutil.copyfileobj(f, g)
    return dst


def test_count_rows_every_format(tmp_path):
    """count_rows is the number of rows read_batches yields, for every format."""
    smi = tmp_path / "lib.smi"
    smi.write_text("smiles name\nCCO a\n\nC1CC b\nc1ccccc1")  # header, blank line, no final \n
    tsv = tmp_path / "lib.tsv"
    tsv.write_text('id\tsmiles\n1\t"C\nC"\n2\tCCO\n')  # a quoted newline is one row
    pqt = tmp_path / "lib.parquet"
    pq.write_table(pa.table({"smiles": ["C"] * 7}), pqt, row_group_size=3)
    files = [DATA / "bad_rows.csv", _gzip_copy(DATA / "bad_rows.csv", tmp_path / "b.csv.gz"),
             DATA / "small.sdf", _gzip_copy(DATA / "small.sdf", tmp_path / "s.sdf.gz"),
             smi, tsv, pqt]
    for p in files:
        assert count_rows(p) == sum(len(b) for b in _all(p)), p
    assert [count_rows(p) for p in files] == [8, 8, 4, 4, 3, 2, 7]


def test_count_rows_estimate_counts_lines(tmp_path):
    """exact=False: newlines (minus a CSV header), for progress bars; Parquet stays exact."""
    tsv = tmp_path / "lib.tsv"
    tsv.write_text('id\tsmiles\n1\t"C\nC"\n2\tCCO\n')
    smi = tmp_path / "lib.smi"
    smi.write_text("CCO a\nC1CC b\nc1ccccc1")
    assert count_rows(tsv, exact=False) == 3  # the quoted newline counts
    assert count_rows(smi, exact=False) == 3  # a last line without newline counts
    assert count_rows(DATA / "bad_rows.csv", exact=False) == 8
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert count_rows(empty) == 0 and count_rows(empty, exact=False) == 0


def test_count_rows_of_a_table_without_smiles_column(tmp_path):
    p = tmp_path / "lib.csv"
    p.write_text("a,b\n1,2\n3,4\n")
    assert count_rows(p) == 2  # counting needs no SMILES column


def test_csv_columns(tmp_path):
    assert csv_columns(DATA / "bad_rows.csv") == ["id", "SMILES", "value"]
    tsv = tmp_path / "x.tsv.gz"
    with gzip.open(tsv, "wt") as fh:
        fh.write("a\tb c\n1\t2\n")
    assert csv_columns(tsv, "tsv") == ["a", "b c"]
    empty = tmp_path / "e.csv"
    empty.write_text("")
    assert csv_columns(empty) is None


def test_batches_dispatch_on_their_kind():
    """MolBatch parses with the one dispatch of chem: SMILES or mol blocks by its kind."""
    (sdf,) = _all(DATA / "small.sdf", batch_size=10)
    (csv,) = _all(DATA / "bad_rows.csv", batch_size=10)
    assert (sdf.kind, csv.kind) == ("molblock", "smiles")
    for b in (sdf, csv):
        mols, errors = b.mols()
        assert errors == b.to_arrays()[1]
        assert [m is None for m in mols] == [e is not None for e in errors]
