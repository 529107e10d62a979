"""Evidence columns of hybrid models in screens, the accessor and SD output; the loud fpr
resolution warning."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from molood.detectors.hybrid.detector import HybridDetector
from molood.screening.engine import screen

EVIDENCE = ["molood_nearest_smiles", "molood_nearest_id", "molood_nearest_similarity",
            "molood_reason"]


@pytest.fixture(scope="module")
def hybrid_path(tmp_path_factory, freesolv_smiles):
    det = HybridDetector(seed=0, verbose=False).fit(freesolv_smiles[:350])  # library rows 0-45 too
    det.reference_.names = [f"fs{i}" for i in range(len(det.reference_))]
    path = tmp_path_factory.mktemp("hybrid") / "h.molood"
    det.save(path)
    return path


def test_screen_writes_evidence_columns_same_with_any_worker_count(
        hybrid_path, library_csv, tmp_path):
    a = screen(library_csv, tmp_path / "a.parquet", model=hybrid_path, workers=1,
               batch_size=17)
    b = screen(library_csv, tmp_path / "b.parquet", model=hybrid_path, workers=2)
    fa, fb = pd.read_parquet(tmp_path / "a.parquet"), pd.read_parquet(tmp_path / "b.parquet")
    assert a.rows == b.rows and list(fa.columns[-4:]) == EVIDENCE
    pd.testing.assert_frame_equal(fa, fb)
    ok = fa["molood_status"] == "ok"
    assert fa.loc[ok, "molood_nearest_smiles"].notna().all()
    assert fa.loc[ok, "molood_nearest_id"].str.startswith("fs").all()
    assert fa["molood_nearest_similarity"].between(0, 1).where(ok, True).all()
    flagged = fa["molood_is_ood"].fillna(False).astype(bool)
    assert fa.loc[flagged, "molood_reason"].notna().all()
    assert fa.loc[~flagged, "molood_reason"].isna().all()
    u = fa.index[fa["smiles"] == "[U]"][0]
    assert fa.loc[u, "molood_reason"] == "element U not in training set"
    first = fa["smiles"].iloc[0]  # a FreeSolv molecule of the training set: its own neighbour
    assert fa["molood_nearest_similarity"].iloc[0] == 1.0, first


def test_reasons_follow_the_screen_fpr(hybrid_path, library_csv, tmp_path):
    screen(library_csv, tmp_path / "lo.parquet", model=hybrid_path, fpr=0.01)
    screen(library_csv, tmp_path / "hi.parquet", model=hybrid_path, fpr=0.3)
    lo, hi = pd.read_parquet(tmp_path / "lo.parquet"), pd.read_parquet(tmp_path / "hi.parquet")
    assert lo["molood_reason"].notna().sum() < hi["molood_reason"].notna().sum()
    assert (hi["molood_reason"].notna() == hi["molood_is_ood"].fillna(False)).all()


def test_sd_output_carries_evidence(hybrid_path, library_csv, tmp_path):
    screen(library_csv, tmp_path / "o.sdf", model=hybrid_path)
    text = (tmp_path / "o.sdf").read_text()
    assert "<molood_nearest_smiles>" in text and "<molood_reason>" in text
    assert "element U not in training set" in text


def test_accessor_returns_the_screen_values(hybrid_path, library_rows, library_csv, tmp_path):
    df = pd.DataFrame(library_rows)
    got = df.molood.screen(model=hybrid_path)
    screen(library_csv, tmp_path / "s.parquet", model=hybrid_path)
    want = pd.read_parquet(tmp_path / "s.parquet")
    for col in ["molood_score", "molood_pvalue"] + EVIDENCE:
        a, b = got[col].to_numpy(), want[col].to_numpy()
        assert pd.Series(a).equals(pd.Series(b)) or np.array_equal(
            pd.to_numeric(pd.Series(a), errors="coerce"),
            pd.to_numeric(pd.Series(b), errors="coerce"), equal_nan=True), col


def test_fpr_below_resolution_is_said_loudly(freesolv_smiles, library_csv, tmp_path, caplog):
    det = HybridDetector(calibration_size=30, verbose=False).fit(freesolv_smiles[:100])
    path = tmp_path / "small.molood"
    det.save(path)
    with caplog.at_level(logging.WARNING):
        screen(library_csv, tmp_path / "o.parquet", model=path, fpr=0.01)
    assert "NOTHING CAN BE FLAGGED" in caplog.text
    with pytest.warns(UserWarning, match="NOTHING CAN BE FLAGGED"):
        pd.DataFrame({"smiles": ["CCO"]}).molood.screen(model=path, fpr=0.01)
