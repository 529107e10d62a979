"""molood train: the model file, its stored default fpr, the summary line, error messages."""

from __future__ import annotations

import importlib
import json
import logging

import pandas as pd
import pytest
from click.testing import CliRunner

from molood._fs import file_sha256
from molood.cli.main import main

training = importlib.import_module("molood.train")


@pytest.fixture()
def id_csv(tmp_path, freesolv_smiles):
    """60 FreeSolv molecules and one invalid SMILES as a CSV table."""
    path = tmp_path / "id.csv"
    pd.DataFrame({"SMILES": freesolv_smiles[:60] + ["not_a_smiles"]}).to_csv(path, index=False)
    return path


def test_help(molood):
    r = molood("train", "--help")
    assert r.exit_code == 0
    for text in ("Example", "--epochs", "--val-fraction", "--fpr", "default: 0.05",
                 "--detector", "--components", "[hybrid]", "[sego]", "--resume",
                 "--time-budget", "--neighbors-index", "--max-steps"):
        assert text in r.output, text


def test_train_hybrid_then_info(molood, tmp_path, id_csv):
    model = tmp_path / "m.molood"
    r = molood("train", id_csv, "-o", model, "--seed", 3, "--fpr", 0.1, "--k", 3, "--quiet")
    assert r.exit_code == 0, r.output
    r = molood("info", model)
    assert r.exit_code == 0
    for text in ("hybrid, components knn, descriptors, seed 3", "molecules    60",
                 "ID scores  60 (ID molecules, each scored leave-one-out)",
                 "component nulls  knn 60, descriptors 60", "k=3", "default fpr  0.1,",
                 "source       id.csv, column SMILES, 61 rows, 1 skipped as invalid",
                 "smallest fpr 0.01639 (= 1/(n_cal+1)"):
        assert text in r.output, text


def test_options_of_the_other_detector_are_refused(molood, tmp_path, id_csv):
    r = molood("train", id_csv, "-o", tmp_path / "m.molood", "--mode", "faithful")
    assert r.exit_code == 2 and "--mode do(es) not apply to --detector hybrid" in r.output
    r = molood("train", id_csv, "-o", tmp_path / "m.molood", "--detector", "sego", "--k", 3)
    assert r.exit_code == 2 and "--k do(es) not apply to --detector sego" in r.output
    assert not (tmp_path / "m.molood").exists()


def test_fpr_below_resolution_is_said_even_when_quiet(molood, tmp_path, id_csv):
    r = molood("train", id_csv, "-o", tmp_path / "m.molood", "--fpr", 0.001, "--quiet")
    assert r.exit_code == 0 and "NOTHING CAN BE FLAGGED" in r.stderr


def test_train_sego_then_info(molood, tmp_path, id_csv):
    model = tmp_path / "m.molood"
    r = molood("train", id_csv, "-o", model, "--detector", "sego", "--epochs", 2, "--seed", 3,
               "--alpha", 0.25, "--val-fraction", 0.2, "--fpr", 0.1, "--quiet")
    assert r.exit_code == 0, r.output
    assert model.exists()
    r = molood("info", model)
    assert r.exit_code == 0
    for text in ("sha256", "training set", "60 (48 trained on, 12 held out)", "calibration",
                 "alpha=0.25", "seed=3", "torch", "default fpr  0.1,",
                 "source       id.csv, column SMILES, 61 rows, 1 skipped as invalid",
                 "smallest fpr 0.07692 (= 1/(n_cal+1)",
                 ("standardize    isotopes, cleanup, largest_fragment, neutralize (off: "
                  "tautomer); canonical atom order")):
        assert text in r.output, text
    r = molood("info", model, "--json")
    info = json.loads(r.output)
    assert info["params"]["epochs"] == 2 and info["training_set"]["n_fit"] == 60
    assert info["params"]["fpr"] == 0.1 and info["calibration"]["fpr"] == 0.1
    assert info["sha256"] == file_sha256(model)


@pytest.mark.parametrize("args,expect", [
    ([], {"standardize": "default", "largest_fragment": None}),
    (["--standardize", "default,tautomer"], {"standardize": "default,tautomer"}),
    (["--standardize", "none", "--largest-fragment"],
     {"standardize": "none", "largest_fragment": True}),
    (["--all-fragments"], {"largest_fragment": False}),
])
def test_standardisation_goes_to_the_detector(molood, tmp_path, monkeypatch, args, expect):
    seen = {}

    class Fitted:
        n_train_, n_val_, epochs_, fpr_ = 9, 1, 400, 0.05

        def warn_fpr_resolution(self, fpr, where):
            return False

    monkeypatch.setattr(training, "train_file",
                        lambda input, output, **params: seen.update(params) or Fitted())
    r = molood("train", tmp_path / "id.csv", "-o", tmp_path / "m.molood", "--detector", "sego",
               *args)
    assert r.exit_code == 0, r.output
    assert {k: seen[k] for k in expect} == expect


def test_a_bad_standardisation_is_refused_before_training(molood, tmp_path, id_csv):
    r = CliRunner().invoke(main, ["train", str(id_csv), "-o", str(tmp_path / "m.molood"),
                                  "--standardize", "default,magic"])
    assert r.exit_code == 2 and "unknown step 'magic'" in r.output
    assert not (tmp_path / "m.molood").exists()


@pytest.mark.parametrize("args,expect", [([], 0.05), (["--fpr", "0.2"], 0.2)])
def test_fpr_goes_to_the_detector(molood, tmp_path, monkeypatch, args, expect):
    seen = {}

    class Fitted:
        n_train_, n_val_, epochs_, fpr_ = 9, 1, 400, expect

        def warn_fpr_resolution(self, fpr, where):
            return False

    def fake_train_file(input, output, **params):
        seen.update(params)
        return Fitted()

    monkeypatch.setattr(training, "train_file", fake_train_file)
    r = molood("train", tmp_path / "id.csv", "-o", tmp_path / "m.molood", "--detector", "sego",
               *args)
    assert r.exit_code == 0, r.output
    assert seen["fpr"] == expect and seen["epochs"] == 400 and seen["detector"] == "sego"
    assert "trained SEGO on 9 molecules (1 held out" in r.stderr


def test_train_prints_one_summary(molood, tmp_path, freesolv_smiles):
    inp = tmp_path / "id.csv"
    pd.DataFrame({"SMILES": freesolv_smiles[:30]}).to_csv(inp, index=False)
    r = molood("train", inp, "-o", tmp_path / "m.molood", "--detector", "sego", "--epochs", 1)
    assert r.exit_code == 0, r.output
    assert r.stderr.count("trained SEGO on 27 molecules (3 held out") == 1
    assert "held-out molecules" not in r.stderr  # the detector's own fit log line
    # the detector's logger is restored afterwards
    assert logging.getLogger("molood.detectors.sego.detector").level == logging.NOTSET


@pytest.mark.parametrize("case", ["missing", "no_smiles_column", "bad_fpr"])
def test_train_errors(molood, tmp_path, listdir, case):
    inp, extra, expect = tmp_path / "id.csv", [], None
    if case == "missing":
        inp, expect = tmp_path / "missing.csv", "missing.csv"
    elif case == "no_smiles_column":
        inp.write_text("name,structure\na,CCO\n")
        expect = "['name', 'structure']"
    else:
        inp.write_text("smiles\nCCO\n")
        extra, expect = ["--fpr", 0], "--fpr"
    before = listdir(tmp_path)
    r = molood("train", inp, "-o", tmp_path / "m.molood", *extra)
    assert r.exit_code != 0 and expect in r.output, r.output
    assert "Traceback" not in r.output
    assert listdir(tmp_path) == before


def test_killed_sego_training_resumes_to_the_same_file(molood, tmp_path, id_csv, monkeypatch):
    """`molood train --resume` after a kill writes the file an uninterrupted run writes."""
    from molood.detectors.sego import training as sego_training

    args = ["--detector", "sego", "--epochs", 5, "--batch-size", 16, "--seed", 2, "--quiet"]
    whole = tmp_path / "whole.molood"
    assert molood("train", id_csv, "-o", whole, *args).exit_code == 0
    model = tmp_path / "m.molood"
    monkeypatch.setenv("MOLOOD_CHECKPOINT_SECONDS", "0")
    real, calls = sego_training._step, {"n": 0}

    def dying_step(*a, **k):
        calls["n"] += 1
        if calls["n"] == 10:  # in epoch 3 of 5 (54 training molecules: 4 steps an epoch)
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(sego_training, "_step", dying_step)
    assert molood("train", id_csv, "-o", model, *args).exit_code != 0  # the CLI's Ctrl-C exit
    assert not model.exists() and (tmp_path / "m.molood.ckpt").exists()
    monkeypatch.setattr(sego_training, "_step", real)
    r = molood("train", id_csv, "-o", model, *args[:-1], "--resume")
    assert r.exit_code == 0, r.output
    assert "resuming SEGO training after epoch 2/5" in r.output
    assert file_sha256(model) == file_sha256(whole)
    assert not (tmp_path / "m.molood.ckpt").exists()


@pytest.mark.parametrize("text,seconds", [("900", 900), ("45m", 2700), ("2h", 7200),
                                          ("1.5h", 5400), ("30s", 30)])
def test_time_budget_reads_durations(molood, tmp_path, id_csv, monkeypatch, text, seconds):
    seen = {}
    monkeypatch.setattr(training, "train_file", lambda *a, **k: seen.update(k) or _Stop())
    molood("train", id_csv, "-o", tmp_path / "m.molood", "--detector", "sego",
           "--time-budget", text, "--quiet")
    assert seen["time_budget"] == seconds


def test_time_budget_refuses_nonsense(molood, tmp_path, id_csv):
    r = CliRunner().invoke(main, ["train", str(id_csv), "-o", str(tmp_path / "m"),
                                  "--time-budget", "soon"])
    assert r.exit_code == 2 and "not a duration" in r.output


class _Stop:
    """What a patched train_file returns: enough of a detector for the CLI's summary."""

    fpr_ = 0.05

    def warn_fpr_resolution(self, *a):
        return None
