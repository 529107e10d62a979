"""The scoring options a screen threads to its workers: the atom cap (``max_atoms`` /
``--max-atoms``) and the ``molood_smiles`` column (``smiles_column`` / ``--no-smiles-column``),
through :func:`molood.screen`, the CLI and the ``DataFrame.molood`` accessor alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import molood
from molood.cli.main import main
from molood.screening.columns import OUTPUT_COLUMNS, SMILES_COLUMN
from molood.screening.workdir import MoloodResumeError, work_dir_for

CHAIN = "C" * 1500
TOO_LARGE = "too_large: 1500 atoms (max_atoms=1000)"
ROWS = ["OCC", CHAIN, "[2H]OC([2H])([2H])[2H]", "CC(=O)[O-].[Na+]", "nope"]


@pytest.fixture()
def library(tmp_path):
    path = tmp_path / "lib.csv"
    pd.DataFrame({"id": [f"r{i}" for i in range(len(ROWS))], "smiles": ROWS}).to_csv(
        path, index=False)
    return path


def _texts(column: pd.Series) -> list:
    """A text column's values, every kind of missing as None."""
    return [x if isinstance(x, str) else None for x in column]


def _cli(*args):
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r


@pytest.mark.parametrize("workers", [1, 2])
def test_a_chain_above_the_cap_is_too_large_in_screen_cli_and_accessor(
        tmp_path, library, tiny_model_path, workers):
    out = tmp_path / "out.parquet"
    molood.screen(library, out, model=tiny_model_path, workers=workers)
    df = pd.read_parquet(out)
    assert df["molood_status"][1] == TOO_LARGE and pd.isna(df["molood_score"][1])
    assert df["molood_status"].tolist()[:4] == ["ok", TOO_LARGE, "ok", "ok"]

    cli_out = tmp_path / "cli.parquet"
    _cli("screen", library, "-o", cli_out, "--model", tiny_model_path, "--workers", workers,
         "-q")
    pd.testing.assert_frame_equal(pd.read_parquet(cli_out), df)

    frame = pd.read_csv(library, keep_default_na=False)
    res = frame.molood.screen(model=tiny_model_path)
    assert res["molood_status"][1] == TOO_LARGE
    np.testing.assert_array_equal(res["molood_score"], df["molood_score"])
    assert _texts(res["molood_smiles"]) == _texts(df["molood_smiles"])


def test_the_cap_can_be_changed_or_lifted(tmp_path, library, tiny_model_path):
    lifted = []
    for i, how in enumerate([{"max_atoms": 0}, {"max_atoms": None}, ["--max-atoms", 0]]):
        out = tmp_path / f"out{i}.parquet"
        if isinstance(how, dict):
            molood.screen(library, out, model=tiny_model_path, **how)
        else:
            _cli("screen", library, "-o", out, "--model", tiny_model_path, *how, "-q")
        lifted.append(pd.read_parquet(out))
        assert lifted[-1]["molood_status"][1] == "ok"
        assert np.isfinite(lifted[-1]["molood_score"][1])
    pd.testing.assert_frame_equal(lifted[0], lifted[2])
    frame = pd.read_csv(library, keep_default_na=False)
    assert frame.molood.screen(model=tiny_model_path, max_atoms=0)["molood_status"][1] == "ok"
    np.testing.assert_array_equal(frame.molood.score(model=tiny_model_path, max_atoms=None),
                                  lifted[0]["molood_score"])
    out = tmp_path / "small.parquet"
    _cli("screen", library, "-o", out, "--model", tiny_model_path, "--max-atoms", 2, "-q")
    assert pd.read_parquet(out)["molood_status"][0] == "too_large: 3 atoms (max_atoms=2)"
    with pytest.raises(ValueError, match="max_atoms"):
        molood.screen(library, tmp_path / "x.parquet", model=tiny_model_path, max_atoms=-5)


def test_smiles_column_holds_what_was_scored_and_can_be_left_out(tmp_path, library,
                                                                tiny_model_path):
    out = tmp_path / "out.parquet"
    molood.screen(library, out, model=tiny_model_path)
    df = pd.read_parquet(out)
    assert list(df.columns) == ["id", "smiles", *OUTPUT_COLUMNS]
    assert _texts(df[SMILES_COLUMN]) == ["CCO", None, "CO", "CC(=O)O", None]
    for i, how in enumerate([{"smiles_column": False}, ["--no-smiles-column"]]):
        lean = tmp_path / f"lean{i}.csv"
        if isinstance(how, dict):
            molood.screen(library, lean, model=tiny_model_path, **how)
        else:
            _cli("screen", library, "-o", lean, "--model", tiny_model_path, *how, "-q")
        got = pd.read_csv(lean)
        assert SMILES_COLUMN not in got.columns
        np.testing.assert_array_equal(got["molood_score"], df["molood_score"])
    frame = pd.read_csv(library, keep_default_na=False)
    assert SMILES_COLUMN not in frame.molood.screen(model=tiny_model_path,
                                                    smiles_column=False).columns


@pytest.mark.parametrize("change", [{"max_atoms": 500}, {"smiles_column": False}])
def test_resume_refuses_other_options(tmp_path, library, tiny_model_path, monkeypatch, change):
    from molood.screening import engine

    out = tmp_path / "out.parquet"
    real = engine.write_part
    calls = {"n": 0}

    def interrupt(*args, **kwargs):  # Ctrl-C after the second chunk is written
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real(*args, **kwargs)

    monkeypatch.setattr(engine, "write_part", interrupt)
    with pytest.raises(KeyboardInterrupt):
        molood.screen(library, out, model=tiny_model_path, batch_size=2)
    monkeypatch.setattr(engine, "write_part", real)
    with pytest.raises(MoloodResumeError):
        molood.screen(library, out, model=tiny_model_path, batch_size=2, resume=True, **change)
    assert work_dir_for(out).exists()
    molood.screen(library, out, model=tiny_model_path, batch_size=2, resume=True)
    assert pd.read_parquet(out)["molood_status"][1] == TOO_LARGE


def test_cli_help_documents_the_options():
    r = CliRunner().invoke(main, ["screen", "--help"])
    for text in ("--max-atoms", "0 = no cap", "--no-smiles-column", "molood_smiles",
                 "too_large"):
        assert text in r.output, text
