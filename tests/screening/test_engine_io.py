"""molood.screening.engine, what the user's files become: SD structures and the ID column in
table outputs, a pandas index kept, empty and damaged inputs, the summary and the progress."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import molood
from molood.exceptions import MoloodInputError
from molood import _term as progress_mod
from molood.screening.columns import OUTPUT_COLUMNS
from molood.screening.workdir import work_dir_for

TEST_DATA = Path(__file__).resolve().parents[1] / "data"
SDF = TEST_DATA / "small.sdf"


def run(inp, out, model, **kw):
    return molood.screen(inp, out, model=model, **kw)


def _records() -> list[str]:
    return [r for r in SDF.read_text().split("$$$$\n") if r.strip()]


def _write_sdf(path: Path, rows: list[tuple[str, dict[str, str]]]) -> Path:
    from rdkit import Chem

    with Chem.SDWriter(str(path)) as w:
        for i, (smi, props) in enumerate(rows):
            m = Chem.MolFromSmiles(smi)
            m.SetProp("_Name", f"mol{i}")
            for k, v in props.items():
                m.SetProp(k, v)
            w.write(m)
    return path


# ----------------------------------------------------------------------------- SD -> table
@pytest.mark.parametrize("out_name", ["out.parquet", "out.csv"])
def test_sdf_to_table_keeps_the_structure_as_canonical_smiles(tmp_path, tiny_model_path,
                                                              out_name):
    from rdkit import Chem

    out = tmp_path / out_name
    run(SDF, out, tiny_model_path, batch_size=3, workers=2 if out_name.endswith("csv") else 1)
    df = pd.read_parquet(out) if out_name.endswith("parquet") else pd.read_csv(out)
    assert list(df.columns) == ["_Name", "id", "activity", "note", "smiles", *OUTPUT_COLUMNS]
    want = []
    for rec in _records():
        m = Chem.MolFromMolBlock(rec.split("M  END")[0] + "M  END")
        want.append(Chem.MolToSmiles(m) if m is not None else None)
    got = [None if pd.isna(v) else v for v in df["smiles"]]
    assert got == want and got[0] == "CCO"
    assert got[1] is None and df["molood_status"][1].startswith("sdf_parse_error")
    # a table screened again reads its SMILES column: the same molecules (the same scores up
    # to float rounding: RDKit's canonical atom order is not the record's)
    again = tmp_path / ("again" + Path(out_name).suffix)
    run(out, again, tiny_model_path)
    back = pd.read_parquet(again) if out_name.endswith("parquet") else pd.read_csv(again)
    ok = df["molood_status"] == "ok"
    assert ((back["molood_status"] == "ok") == ok).all()  # the broken record: "empty"
    np.testing.assert_allclose(back.loc[ok, "molood_score"], df.loc[ok, "molood_score"],
                               rtol=1e-4, atol=1e-6)


def test_sdf_smiles_property_is_not_overwritten(tmp_path, tiny_model_path):
    src = _write_sdf(tmp_path / "lib.sdf", [("CCO", {"SMILES": "author's"}),
                                            ("c1ccccc1", {"SMILES": "x"})])
    out = tmp_path / "out.parquet"
    run(src, out, tiny_model_path)
    df = pd.read_parquet(out)
    assert df["SMILES"].tolist() == ["author's", "x"]
    assert df["rdkit_smiles"].tolist() == ["CCO", "c1ccccc1"]
    assert "smiles" not in df.columns


def test_sdf_to_sdf_adds_no_smiles_property(tmp_path, tiny_model_path):
    out = tmp_path / "out.sdf"
    run(SDF, out, tiny_model_path)
    assert "<smiles>" not in out.read_text()


# ----------------------------------------------------------------------------- the ID column
def test_id_col_selects_an_sd_property_or_names_the_title(tmp_path, tiny_model_path):
    prop = tmp_path / "prop.parquet"
    run(SDF, prop, tiny_model_path, id_col="id")
    df = pd.read_parquet(prop)
    assert list(df.columns[:5]) == ["id", "_Name", "activity", "note", "smiles"]
    assert df["id"].iloc[0] == "A1" and df["_Name"].iloc[0] == "ethanol"
    title = tmp_path / "title.csv"
    run(SDF, title, tiny_model_path, id_col="Compound")
    df = pd.read_csv(title)
    assert list(df.columns[:5]) == ["Compound", "id", "activity", "note", "smiles"]
    assert df["Compound"].iloc[0] == "ethanol" and "_Name" not in df.columns


def test_id_col_of_smiles_files_and_tables(tmp_path, tiny_model_path, library_csv):
    smi = tmp_path / "lib.smi"
    smi.write_text("CCO ethanol\nc1ccccc1 benzene\n")
    run(smi, tmp_path / "smi.parquet", tiny_model_path, id_col="ID")
    df = pd.read_parquet(tmp_path / "smi.parquet")
    assert list(df.columns[:2]) == ["ID", "smiles"] and df["ID"].tolist() == ["ethanol",
                                                                              "benzene"]
    run(library_csv, tmp_path / "t.parquet", tiny_model_path, id_col="value")
    assert list(pd.read_parquet(tmp_path / "t.parquet").columns[:3]) == ["value", "id",
                                                                         "smiles"]
    with pytest.raises(MoloodInputError, match=r"no column 'nope' for the ID column.*"
                                               r"columns are \['id', 'smiles', 'value'\]"):
        run(library_csv, tmp_path / "x.parquet", tiny_model_path, id_col="nope")
    assert not (tmp_path / "x.parquet").exists()


# ----------------------------------------------------------------------------- pandas
@pytest.mark.parametrize("index", [pd.Index(["a", "b", "c"], name="compound_id"),
                                   pd.RangeIndex(3),
                                   pd.MultiIndex.from_tuples([("p", 1), ("p", 2), ("q", 1)],
                                                             names=["plate", "well"])],
                         ids=["named", "range", "multi"])
def test_pandas_index_round_trip(tmp_path, tiny_model_path, index):
    src = tmp_path / "in.parquet"
    frame = pd.DataFrame({"smiles": ["CCO", "not_a_smiles", "c1ccccc1"], "v": [1.0, 2.0, 3.0]},
                         index=index)
    frame.to_parquet(src)
    out = tmp_path / "out.parquet"
    run(src, out, tiny_model_path, batch_size=2)
    back = pd.read_parquet(out)
    pd.testing.assert_index_equal(back.index, frame.index)
    assert list(back.columns) == ["smiles", "v", *OUTPUT_COLUMNS]
    assert back["molood_status"].iloc[1].startswith("invalid_smiles")
    md = json.loads(pq.read_schema(out).metadata[b"pandas"])
    assert [c["field_name"] for c in md["columns"]] == pq.read_schema(out).names


def test_table_without_pandas_metadata_gets_none(tmp_path, tiny_model_path, library_csv):
    out = tmp_path / "out.parquet"
    run(library_csv, out, tiny_model_path)
    assert b"pandas" not in pq.read_schema(out).metadata


# ----------------------------------------------------------------------------- empty inputs
@pytest.mark.parametrize("name,content,rows", [("e.csv", "", None), ("e.tsv", "", None),
                                               ("h.csv", "id,smiles\n", 0),
                                               ("e.smi", "", 0), ("e.sdf", "", 0)])
def test_empty_inputs(tmp_path, tiny_model_path, name, content, rows):
    """0-byte CSV/TSV: no header, an error, nothing written. A header without rows, a 0-byte
    SMILES or SD file: an empty library, an output of 0 rows."""
    src = tmp_path / name
    src.write_text(content)
    out = tmp_path / "out.parquet"
    if rows is None:
        with pytest.raises(MoloodInputError, match=f"{name}: the file is empty"):
            run(src, out, tiny_model_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    else:
        assert run(src, out, tiny_model_path).rows == 0 and pq.read_table(out).num_rows == 0


# ----------------------------------------------------------------------------- damaged inputs
def _truncated(path: Path, text: str, keep: float = 0.6) -> Path:
    data = gzip.compress(text.encode())
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _corrupt_parquet_page(path: Path, rows: list[str]) -> Path:
    """A Parquet file of 100-row row groups whose bytes are overwritten a third of the way in:
    its footer reads, a middle row group does not."""
    import pyarrow as pa

    pq.write_table(pa.table({"smiles": rows, "n": list(range(len(rows)))}), path,
                   row_group_size=100)
    data = bytearray(path.read_bytes())
    at = len(data) // 3
    data[at:at + 400] = b"\x55" * 400
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("name", ["lib.smi.gz", "lib.parquet"])
def test_input_damaged_mid_file_keeps_finished_chunks(tmp_path, tiny_model_path,
                                                      library_rows, name):
    """Damage found after chunks were written: MoloodInputError naming the file, no output,
    the finished chunks kept for resume. (A SMILES file is only read ahead of screening for a
    progress total; an SD file always is, so its damage is found before any chunk.)"""
    smiles = [r["smiles"] or "C" for r in library_rows] * 20
    if name.endswith(".gz"):
        src = _truncated(tmp_path / name, "".join(f"{s} m{i}\n" for i, s in enumerate(smiles)))
        what = "the file is truncated"
    else:
        src = _corrupt_parquet_page(tmp_path / name, smiles)
        what = "not a readable Parquet file"
    out = tmp_path / "out.parquet"
    with pytest.raises(MoloodInputError, match=f"{name}: cannot read: {what}"):
        run(src, out, tiny_model_path, batch_size=100)
    assert not out.exists() and not Path(f"{out}.part").exists()
    assert len(list(work_dir_for(out).glob("chunk-*.parquet"))) >= 1


@pytest.mark.parametrize("name,content", [("bad.parquet", b"PAR1" + b"\0" * 64),
                                          ("early.csv.gz", None)])
def test_damaged_input_found_when_planning_leaves_nothing(tmp_path, tiny_model_path, name,
                                                          content):
    src = tmp_path / name
    if content is None:
        _truncated(src, "id,smiles\n" + "1,CCO\n" * 1000, 0.3)
    else:
        src.write_bytes(content)
    with pytest.raises(MoloodInputError, match=f"{name}: cannot read: "):
        run(src, tmp_path / "out.parquet", tiny_model_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


# ----------------------------------------------------------------------------- summary
def test_summary_counts_statuses_and_words(tmp_path, tiny_model_path, library_csv):
    s = run(library_csv, tmp_path / "out.parquet", tiny_model_path, batch_size=7)
    assert sum(s.status_counts.values()) == s.rows and s.status_counts["ok"] == s.scored
    assert s.status_counts["empty"] == 1 and s.status_counts["invalid_smiles"] >= 2
    d = json.loads(s.to_json())
    assert {"rows", "scored", "invalid", "flagged", "status_counts", "mol_per_s",
            "model_sha256", "fpr"} <= set(d)
    one = tmp_path / "one.smi"
    one.write_text("CCO\n")
    assert str(run(one, tmp_path / "one.parquet", tiny_model_path)).startswith("1 row: ")


# ----------------------------------------------------------------------------- progress
def test_progress_without_a_terminal_is_plain_lines(tmp_path, tiny_model_path, library_csv,
                                                    monkeypatch, capsys):
    """Not a terminal: one plain line per interval, no carriage returns, no final line."""
    monkeypatch.setattr(progress_mod, "PROGRESS_SECONDS", 0.0)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # logging not configured: lines go to stderr
    run(library_csv, tmp_path / "out.parquet", tiny_model_path, batch_size=20, progress=True)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("molood: screened")]
    assert "\r" not in err and len(lines) == 3
    assert lines[0].startswith("molood: screened 20/") and lines[-1].startswith(
        "molood: screened 58/")
    assert "flagged" in lines[0] and "invalid" in lines[0]
