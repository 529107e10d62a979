"""molood CLI (click): train / screen / info, exit codes and error messages."""

from __future__ import annotations

import importlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from molood.cli.main import main
from molood.persist import default_model_path
from molood._fs import file_sha256
from molood.screening.scoring import score_frame
from molood.screening.workdir import work_dir_for

screen_mod = importlib.import_module("molood.screening.engine")


@pytest.fixture()
def cli():
    return CliRunner()


def invoke(cli, *args):
    return cli.invoke(main, [str(a) for a in args], catch_exceptions=False)


def files(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


# ----------------------------------------------------------------------------- help
@pytest.mark.parametrize("cmd", [[], ["train"], ["screen"], ["info"]])
def test_help_reads_like_a_man_page(cli, cmd):
    r = invoke(cli, *cmd, "--help")
    assert r.exit_code == 0
    assert "Example" in r.output
    if cmd == ["screen"]:
        for text in ("--workers", "--batch-size", "--fpr", "--resume", "molood_score",
                     "default: 0.05", "molood_status"):
            assert text in r.output


def test_version(cli):
    r = invoke(cli, "--version")
    assert r.exit_code == 0 and "molood" in r.output


# ----------------------------------------------------------------------------- train + info
def test_train_then_info(cli, tmp_path, freesolv_smiles):
    inp = tmp_path / "id.csv"
    pd.DataFrame({"SMILES": freesolv_smiles[:60] + ["not_a_smiles"]}).to_csv(inp, index=False)
    model = tmp_path / "m.molood"
    r = invoke(cli, "train", inp, "-o", model, "--epochs", 2, "--seed", 3, "--alpha", 0.25,
               "--val-fraction", 0.2, "--quiet")
    assert r.exit_code == 0, r.output
    assert model.exists()
    r = invoke(cli, "info", model)
    assert r.exit_code == 0
    for text in ("sha256", "training set", "60 (48 trained on, 12 held out)", "calibration",
                 "alpha=0.25", "seed=3", "torch"):
        assert text in r.output, text
    r = invoke(cli, "info", model, "--json")
    info = json.loads(r.output)
    assert info["params"]["epochs"] == 2 and info["training_set"]["n_fit"] == 60
    assert info["sha256"] == file_sha256(model)


def test_train_prints_one_summary(cli, tmp_path, freesolv_smiles):
    inp = tmp_path / "id.csv"
    pd.DataFrame({"SMILES": freesolv_smiles[:30]}).to_csv(inp, index=False)
    r = invoke(cli, "train", inp, "-o", tmp_path / "m.molood", "--epochs", 1)
    assert r.exit_code == 0, r.output
    assert r.stderr.count("trained on 27 molecules (3 held out") == 1
    assert "held-out molecules" not in r.stderr  # the detector's own fit log line
    assert logging.getLogger("molood.detectors.sego.detector").level == logging.NOTSET  # restored afterwards


def test_train_errors(cli, tmp_path):
    r = invoke(cli, "train", tmp_path / "missing.csv", "-o", tmp_path / "m.molood")
    assert r.exit_code != 0 and "missing.csv" in r.output
    bad = tmp_path / "id.csv"
    bad.write_text("name,structure\na,CCO\n")
    r = invoke(cli, "train", bad, "-o", tmp_path / "m.molood")
    assert r.exit_code != 0 and "['name', 'structure']" in r.output
    assert files(tmp_path) == ["id.csv"]


@pytest.mark.skipif(not default_model_path().exists(), reason="bundled model not built")
def test_info_default_model(cli):
    r = invoke(cli, "info")
    assert r.exit_code == 0 and "default.molood" in r.output and "642" in r.output


# ----------------------------------------------------------------------------- screen
def test_screen_ok(cli, tmp_path, library_csv, tiny_model_path):
    out = tmp_path / "out.parquet"
    r = invoke(cli, "screen", library_csv, "-o", out, "--model", tiny_model_path,
               "--batch-size", 16, "--fpr", 0.1)
    assert r.exit_code == 0, r.output
    assert "scored" in r.stderr and "mol/s" in r.stderr and r.stdout == ""
    df = pd.read_parquet(out)
    ref = score_frame(pd.read_csv(library_csv, keep_default_na=False),
                      model=tiny_model_path, fpr=0.1)
    np.testing.assert_array_equal(df["molood_score"], ref["molood_score"].to_numpy())
    md = pq.read_schema(out).metadata
    assert md[b"molood_fpr"] == b"0.1"
    assert files(tmp_path) == ["out.parquet"]


def test_screen_quiet(cli, tmp_path, library_csv, tiny_model_path):
    out = tmp_path / "out.csv"
    r = invoke(cli, "screen", library_csv, "-o", out, "--model", tiny_model_path, "-q")
    assert r.exit_code == 0 and r.output == ""
    assert out.exists()


@pytest.mark.skipif(not default_model_path().exists(), reason="bundled model not built")
def test_screen_default_model(cli, tmp_path):
    inp = tmp_path / "lib.smi"
    inp.write_text("CCO\nc1ccccc1\nxx\n")
    out = tmp_path / "out.parquet"
    r = invoke(cli, "screen", inp, "-o", out, "-q")
    assert r.exit_code == 0
    md = pq.read_schema(out).metadata
    assert md[b"molood_model_sha256"].decode() == file_sha256(default_model_path())


@pytest.mark.parametrize("case", ["missing_input", "unknown_input_format", "unknown_output_format",
                                  "missing_column", "unreadable_model", "missing_model",
                                  "missing_output_dir", "bad_fpr"])
def test_screen_errors(cli, tmp_path, library_csv, tiny_model_path, case):
    d = tmp_path / "run"
    d.mkdir()
    inp, out, extra = library_csv, d / "out.parquet", ["--model", tiny_model_path]
    expect = None
    if case == "missing_input":
        inp, expect = d / "nope.csv", "nope.csv"
    elif case == "unknown_input_format":
        inp = d / "lib.xyz"
        inp.write_text("CCO\n")
        expect = "unknown file type"
    elif case == "unknown_output_format":
        out, expect = d / "out.xlsx", "unknown file type"
    elif case == "missing_column":
        extra += ["--smiles-col", "structure"]
        expect = "no column 'structure'; columns are ['id', 'smiles', 'value']"
    elif case == "unreadable_model":
        bad = d / "bad.molood"
        bad.write_bytes(b"\x80\x04not a model")
        extra = ["--model", bad]
        expect = "pickle"
    elif case == "missing_model":
        extra, expect = ["--model", d / "none.molood"], "none.molood"
    elif case == "missing_output_dir":
        out, expect = d / "sub" / "out.parquet", "does not exist"
    elif case == "bad_fpr":
        extra += ["--fpr", 1.5]
        expect = "--fpr"
    r = invoke(cli, "screen", inp, "-o", out, *extra, "-q")
    assert r.exit_code not in (0, 130), r.output
    assert expect in r.output, r.output
    assert "Traceback" not in r.output
    errors = [ln for ln in r.output.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == 1 and expect in errors[0]  # one-line message (+ click's usage hint)
    assert files(d) == sorted({"lib.xyz", "bad.molood"} & set(files(d)))


def test_screen_interrupted_exit_130_then_resume(cli, tmp_path, library_csv, tiny_model_path,
                                                 monkeypatch):
    out = tmp_path / "out.parquet"
    real = screen_mod.write_part
    calls = []

    def flaky(wd, k, table):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(k)
        real(wd, k, table)

    with monkeypatch.context() as m:
        m.setattr(screen_mod, "write_part", flaky)
        r = invoke(cli, "screen", library_csv, "-o", out, "--model", tiny_model_path,
                   "--batch-size", 10)
    assert r.exit_code == 130
    assert "interrupted" in r.stderr
    assert not out.exists() and work_dir_for(out).exists()
    r = invoke(cli, "screen", library_csv, "-o", out, "--model", tiny_model_path, "--resume")
    assert r.exit_code == 0, r.output
    assert "20 resumed" in r.stderr
    assert files(tmp_path) == ["out.parquet"]


def test_resume_mismatch_message(cli, tmp_path, library_csv, tiny_model_path, monkeypatch):
    out = tmp_path / "out.parquet"
    real = screen_mod.write_part

    def flaky(wd, k, table):
        if k == 1:
            raise KeyboardInterrupt
        real(wd, k, table)

    with monkeypatch.context() as m:
        m.setattr(screen_mod, "write_part", flaky)
        invoke(cli, "screen", library_csv, "-o", out, "--model", tiny_model_path,
               "--batch-size", 10, "-q")
    r = invoke(cli, "screen", library_csv, "-o", out, "--model", tiny_model_path, "--resume",
               "--fpr", 0.2)
    assert r.exit_code == 1 and "cannot resume" in r.output and "fpr" in r.output


def test_info_errors(cli, tmp_path):
    r = invoke(cli, "info", tmp_path / "none.molood")
    assert r.exit_code != 0 and "not found" in r.output
    bad = tmp_path / "bad.molood"
    bad.write_bytes(os.urandom(64))
    r = invoke(cli, "info", bad)
    assert r.exit_code == 1 and "not a molood model file" in r.output
