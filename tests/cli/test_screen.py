"""molood screen: output, summary line, --fpr default, exit codes, error messages, resume."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from molood.persist import default_model_path
from molood._fs import file_sha256
from molood.screening.scoring import score_frame
from molood.screening.workdir import work_dir_for

engine = importlib.import_module("molood.screening.engine")

# End-to-end runs pass --fpr explicitly: what no --fpr means (the model's default fpr) is the
# library's business; here it is checked that the CLI passes None (test_fpr_is_passed_through).
FPR = ("--fpr", 0.05)


def test_help(molood):
    r = molood("screen", "--help")
    assert r.exit_code == 0
    for text in ("Example", "--workers", "--batch-size", "--fpr", "--resume", "molood_score",
                 "molood_status", "[default: the model's", "0.05 for the bundled model"):
        assert text in r.output, text


@pytest.mark.parametrize("args,expect", [([], None), (["--fpr", "0.01"], 0.01)])
def test_fpr_is_passed_through(molood, monkeypatch, tmp_path, args, expect):
    """Without --fpr the CLI passes fpr=None: the model's default fpr, not one of its own."""
    seen = {}

    def fake_screen(input, output, **kwargs):
        seen.update(kwargs)
        return "fake summary"

    monkeypatch.setattr(engine, "screen", fake_screen)
    r = molood("screen", tmp_path / "lib.csv", "-o", tmp_path / "out.parquet", *args)
    assert r.exit_code == 0, r.output
    assert seen["fpr"] == expect
    assert seen["resume"] is False and seen["progress"] is True and seen["workers"] == 1
    assert r.stderr.strip() == "molood: fake summary"


def test_screen_ok(molood, tmp_path, library_csv, tiny_model_path, listdir):
    out = tmp_path / "out.parquet"
    r = molood("screen", library_csv, "-o", out, "--model", tiny_model_path,
               "--batch-size", 16, "--fpr", 0.1)
    assert r.exit_code == 0, r.output
    assert "scored" in r.stderr and "mol/s" in r.stderr and r.stdout == ""
    df = pd.read_parquet(out)
    ref = score_frame(pd.read_csv(library_csv, keep_default_na=False),
                      model=tiny_model_path, fpr=0.1)
    np.testing.assert_array_equal(df["molood_score"], ref["molood_score"].to_numpy())
    md = pq.read_schema(out).metadata
    assert md[b"molood_fpr"] == b"0.1"
    assert listdir(tmp_path) == ["out.parquet"]


def test_screen_quiet(molood, tmp_path, library_csv, tiny_model_path):
    out = tmp_path / "out.csv"
    r = molood("screen", library_csv, "-o", out, "--model", tiny_model_path, *FPR, "-q")
    assert r.exit_code == 0 and r.output == ""
    assert out.exists()


@pytest.mark.skipif(not default_model_path().exists(), reason="bundled model not built")
def test_screen_default_model(molood, tmp_path):
    inp = tmp_path / "lib.smi"
    inp.write_text("CCO\nc1ccccc1\nxx\n")
    out = tmp_path / "out.parquet"
    r = molood("screen", inp, "-o", out, *FPR, "-q")
    assert r.exit_code == 0
    md = pq.read_schema(out).metadata
    assert md[b"molood_model_sha256"].decode() == file_sha256(default_model_path())


@pytest.mark.parametrize("case", ["missing_input", "unknown_input_format", "unknown_output_format",
                                  "missing_column", "unreadable_model", "missing_model",
                                  "missing_output_dir", "bad_fpr"])
def test_screen_errors(molood, tmp_path, library_csv, tiny_model_path, listdir, case):
    d = tmp_path / "run"
    d.mkdir()
    inp, out, extra = library_csv, d / "out.parquet", ["--model", tiny_model_path, *FPR]
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
        extra = ["--model", bad, *FPR]
        expect = "pickle"
    elif case == "missing_model":
        extra, expect = ["--model", d / "none.molood", *FPR], "none.molood"
    elif case == "missing_output_dir":
        out, expect = d / "sub" / "out.parquet", "does not exist"
    elif case == "bad_fpr":
        extra += ["--fpr", 1.5]
        expect = "--fpr"
    r = molood("screen", inp, "-o", out, *extra, "-q")
    assert r.exit_code not in (0, 130), r.output
    assert expect in r.output, r.output
    assert "Traceback" not in r.output
    errors = [ln for ln in r.output.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == 1 and expect in errors[0]  # one-line message (+ click's usage hint)
    assert listdir(d) == sorted({"lib.xyz", "bad.molood"} & set(listdir(d)))


def _interrupt_at(monkeypatch, chunk):
    """Make the engine raise KeyboardInterrupt when it is about to write chunk ``chunk``."""
    real = engine.write_part

    def flaky(wd, k, table):
        if k == chunk:
            raise KeyboardInterrupt
        real(wd, k, table)

    monkeypatch.setattr(engine, "write_part", flaky)


def test_screen_interrupted_exit_130_then_resume(molood, tmp_path, library_csv,
                                                 tiny_model_path, monkeypatch, listdir):
    out = tmp_path / "out.parquet"
    with monkeypatch.context() as m:
        _interrupt_at(m, 2)
        r = molood("screen", library_csv, "-o", out, "--model", tiny_model_path,
                   "--batch-size", 10, *FPR)
    assert r.exit_code == 130
    assert "interrupted" in r.stderr
    assert not out.exists() and work_dir_for(out).exists()
    r = molood("screen", library_csv, "-o", out, "--model", tiny_model_path, "--resume", *FPR)
    assert r.exit_code == 0, r.output
    assert "20 resumed" in r.stderr
    assert listdir(tmp_path) == ["out.parquet"]


def test_resume_mismatch_message(molood, tmp_path, library_csv, tiny_model_path, monkeypatch):
    out = tmp_path / "out.parquet"
    with monkeypatch.context() as m:
        _interrupt_at(m, 1)
        molood("screen", library_csv, "-o", out, "--model", tiny_model_path,
               "--batch-size", 10, *FPR, "-q")
    r = molood("screen", library_csv, "-o", out, "--model", tiny_model_path, "--resume",
               "--fpr", 0.2)
    assert r.exit_code == 1 and "cannot resume" in r.output and "fpr" in r.output


def test_screen_with_a_hybrid_model_writes_reasons(molood, tmp_path, freesolv_smiles):
    import pandas as pd

    train = tmp_path / "train.csv"
    pd.DataFrame({"smiles": freesolv_smiles[:200],
                  "name": [f"fs{i}" for i in range(200)]}).to_csv(train, index=False)
    model = tmp_path / "h.molood"
    assert molood("train", train, "-o", model, "--quiet").exit_code == 0
    lib = tmp_path / "lib.csv"
    pd.DataFrame({"smiles": [freesolv_smiles[5], "[U]", "xx"]}).to_csv(lib, index=False)
    out = tmp_path / "o.csv"
    r = molood("screen", lib, "-o", out, "--model", model)
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out)
    assert df["molood_nearest_id"].tolist()[:1] == ["fs5"]
    assert df["molood_reason"].tolist()[1] == "element U not in training set"
    assert df["molood_status"].tolist()[2].startswith("invalid_smiles")
