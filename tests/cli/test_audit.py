"""molood audit: every input row kept in order, audit columns appended, errors as messages."""

from __future__ import annotations

import pandas as pd

SMILES = ["C" * k + tail for k in range(1, 8) for tail in ("O", "N", "Cl", "C(=O)O")]


def test_help(molood):
    r = molood("audit", "--help")
    assert r.exit_code == 0
    for text in ("--folds", "--detector", "--epochs", "--fpr", "molood_reason",
                 "molood_nearest_row", "Example"):
        assert text in r.output, text


def test_listed_in_main_help(molood):
    assert "audit" in molood("--help").output


def test_csv_to_parquet_keeps_rows(molood, tmp_path, listdir):
    rows = SMILES[:5] + ["nope"] + SMILES[5:]
    src = tmp_path / "coll.csv"
    pd.DataFrame({"id": range(len(rows)), "smiles": rows}).to_csv(src, index=False)
    out = tmp_path / "audited.parquet"
    r = molood("audit", src, "-o", out, "--folds", 2, "--epochs", 1)
    assert r.exit_code == 0, r.output
    assert "audited 29 rows" in r.output
    df = pd.read_parquet(out)
    # CSV columns are carried as text, as screen does
    assert df["id"].tolist() == [str(i) for i in range(len(rows))]
    assert df["smiles"].tolist() == rows
    assert df.loc[5, "molood_status"].startswith("invalid_smiles")
    assert listdir(tmp_path) == ["audited.parquet", "coll.csv"]


def test_missing_input_is_a_message(molood, tmp_path):
    r = molood("audit", tmp_path / "missing.csv", "-o", tmp_path / "o.parquet")
    assert r.exit_code == 1 and "not found" in r.output
