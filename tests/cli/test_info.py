"""molood info: the report of the bundled model and error messages (a trained model's report
is checked in test_train.py)."""

from __future__ import annotations

import os

import pytest

from molood.persist import default_model_path


def test_help(molood):
    r = molood("info", "--help")
    assert r.exit_code == 0 and "Example" in r.output and "--json" in r.output


@pytest.mark.skipif(not default_model_path().exists(), reason="bundled model not built")
def test_info_default_model(molood):
    r = molood("info")
    assert r.exit_code == 0 and "default.molood" in r.output and "642" in r.output
    assert "default fpr  0.05," in r.output


def test_info_errors(molood, tmp_path):
    r = molood("info", tmp_path / "none.molood")
    assert r.exit_code != 0 and "not found" in r.output
    bad = tmp_path / "bad.molood"
    bad.write_bytes(os.urandom(64))
    r = molood("info", bad)
    assert r.exit_code == 1 and "not a molood model file" in r.output


def test_info_refuses_a_truncated_model_like_screen(molood, tiny_model_path, tmp_path):
    half = tmp_path / "half.molood"
    raw = tiny_model_path.read_bytes()
    half.write_bytes(raw[: len(raw) // 2])
    r = molood("info", half)
    assert r.exit_code == 1 and "truncated" in r.output


def test_info_shows_the_smallest_resolvable_fpr(molood, tiny_model_path):
    r = molood("info", tiny_model_path)
    assert r.exit_code == 0
    assert "smallest fpr 0.02439 (= 1/(n_cal+1)" in r.output  # 40 calibration molecules


def test_info_shows_how_neighbours_are_searched(molood, freesolv_smiles, tmp_path):
    from molood.detectors.hybrid.detector import HybridDetector

    path = tmp_path / "h.molood"
    HybridDetector(seed=0, verbose=False, neighbors_index="hnsw").fit(
        freesolv_smiles[:200]).save(path)
    r = molood("info", path)
    assert r.exit_code == 0
    assert ("hnsw search over 200 training molecules (graph: connectivity 16, expansion 128 "
            "to build, 32 to search)") in r.output
    exact = molood("info")
    assert "exact search over 642 training molecules\n" in exact.output
