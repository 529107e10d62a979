"""molood.audit: K-fold cross-fitted audit of one's own collection, with hybrid fold models (the
default) and SEGO ones (tiny epochs)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from molood.audit import AUDIT_COLUMNS, audit_smiles, chemistry_reasons

ORGANICS = ["C" * k + tail for k in range(1, 8) for tail in ("O", "N", "Cl", "C(=O)O")]  # 28


@pytest.fixture(scope="module", params=["hybrid", "sego"])
def audited(request):
    smiles = ORGANICS[:10] + ["[Na+].[Cl-]", None, "not a smiles"] + ORGANICS[10:] + ["CCO"]
    return smiles, audit_smiles(smiles, folds=3, epochs=1, seed=0, detector=request.param)


def test_every_row_in_order_with_the_columns(audited):
    smiles, res = audited
    assert list(res.columns) == list(AUDIT_COLUMNS)
    assert len(res) == len(smiles) and list(res.index) == list(range(len(smiles)))
    assert res.loc[11, "molood_status"] == "empty"
    assert res.loc[12, "molood_status"].startswith("invalid_smiles")
    assert np.isnan(res.loc[12, "molood_score"]) and res.loc[12, "molood_is_ood"] is pd.NA


def test_each_valid_row_is_scored_by_one_fold_model(audited):
    smiles, res = audited
    ok = res["molood_status"] == "ok"
    assert ok.sum() == len(smiles) - 2
    assert res.loc[ok, "molood_score"].notna().all()
    assert ((res.loc[ok, "molood_pvalue"] > 0) & (res.loc[ok, "molood_pvalue"] <= 1)).all()
    assert sorted(res.loc[ok, "molood_fold"].unique()) == [0, 1, 2]
    assert (res.loc[~ok, "molood_fold"] == -1).all()


def test_nearest_is_another_member(audited):
    smiles, res = audited
    ok = res["molood_status"] == "ok"
    rows = res.index[ok]
    assert (res.loc[ok, "molood_nearest_row"] != rows).all()
    assert res.loc[ok, "molood_nearest_row"].isin(rows).all()
    last = len(smiles) - 1  # the trailing "CCO" duplicates ORGANICS[4]
    assert res.loc[last, "molood_nearest_similarity"] == pytest.approx(1.0)


def test_reasons(audited):
    _, res = audited
    assert "mixture: 2 fragments" in res.loc[10, "molood_reason"]
    assert "metal: Na" in res.loc[10, "molood_reason"]
    assert res.loc[12, "molood_reason"] == res.loc[12, "molood_status"]


def test_chemistry_reasons():
    from rdkit import Chem

    assert chemistry_reasons(Chem.MolFromSmiles("c1ccccc1CCN")) == []
    r = chemistry_reasons(Chem.MolFromSmiles("[Pt](Cl)(Cl)(N)N"))
    assert "metal: Pt" in r and "no carbon" in r
    assert chemistry_reasons(Chem.MolFromSmiles("CC[Se]C")) == ["unusual element: Se"]


def test_hybrid_fold_models_flag_a_foreign_member_and_say_why(freesolv_smiles):
    """A drug among FreeSolv's small molecules: far from every other member (no chemistry
    rule fires), flagged with the fold model's reason."""
    drug = "CC(C)Cc1ccc(cc1)[C@@H](C)C(=O)NCCc1c[nH]c2ccc(O)cc12"
    smiles = freesolv_smiles[:150] + [drug]
    res = audit_smiles(smiles, folds=3, seed=0, fpr=0.05)
    last = res.iloc[-1]
    assert bool(last["molood_is_ood"]) and last["molood_pvalue"] <= 0.05
    assert res["molood_score"].rank(ascending=False).iloc[-1] <= 8  # top 5% of 151
    assert "Tanimoto" in last["molood_reason"] or "unusual" in last["molood_reason"]
    with pytest.raises(ValueError, match="detector"):
        audit_smiles(smiles, folds=3, detector="svm")


def test_too_few_molecules():
    with pytest.raises(ValueError, match="at least"):
        audit_smiles(ORGANICS[:8], folds=5, epochs=1)


def test_accessor_keeps_the_index():
    import molood  # noqa: F401  (registers df.molood)

    df = pd.DataFrame({"smiles": ORGANICS}, index=[f"m{i}" for i in range(len(ORGANICS))])
    res = df.molood.audit(folds=2, epochs=1)
    assert list(res.index) == list(df.index)


def test_import_is_torch_free():
    code = ("import sys, molood.audit, molood.cli.audit\n"
            "bad = [m for m in ('torch', 'dgl') if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)
