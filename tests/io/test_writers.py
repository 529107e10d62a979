"""molood.io.writers: streaming, atomic Parquet/CSV/SD writers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from molood.io.readers import read_batches
from molood.io.writers import EMPTY_MOLBLOCK, open_writer

DATA = Path(__file__).resolve().parents[1] / "data"


def _all(path, **kw):
    return list(read_batches(path, **kw))


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
