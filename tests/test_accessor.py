"""DataFrame.molood accessor: alignment, no mutation, dtypes, caching, parity with screen."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import molood  # noqa: F401 - registers the accessor
from molood.screening.columns import OUTPUT_COLUMNS


@pytest.fixture()
def frame(library_rows) -> pd.DataFrame:
    df = pd.DataFrame(library_rows)
    df.loc[3, "smiles"] = None  # a real missing value
    rng = np.random.RandomState(0)
    df = df.iloc[rng.permutation(len(df))]
    df.index = [f"k{i % 7}" for i in range(len(df))]  # str index with duplicates
    return df


def test_score_aligned_nan_no_mutation(frame, tiny_model_path, tiny_model):
    before = frame.copy(deep=True)
    s = frame.molood.score(model=tiny_model_path)
    pd.testing.assert_frame_equal(frame, before)
    assert s.name == "molood_score" and s.dtype == np.float64
    assert s.index.equals(frame.index)
    expect = tiny_model.score(frame["smiles"].tolist())
    np.testing.assert_array_equal(s.to_numpy(), expect)
    assert s.isna().to_numpy().tolist() == np.isnan(expect).tolist()
    assert s.isna().sum() >= 4


def test_flag_nullable_boolean(frame, tiny_model_path, tiny_model):
    f = frame.molood.flag(fpr=0.2, model=tiny_model_path)
    assert f.name == "molood_is_ood" and str(f.dtype) == "boolean"
    scores = frame.molood.score(model=tiny_model_path)
    assert f.isna().equals(scores.isna())
    ok = scores.notna().to_numpy()
    np.testing.assert_array_equal(f[ok].to_numpy(bool),
                                  scores[ok].to_numpy() > tiny_model.threshold(0.2))


def test_screen_columns_and_pvalue(frame, tiny_model_path):
    res = frame.molood.screen(model=tiny_model_path)
    assert list(res.columns) == list(OUTPUT_COLUMNS)
    assert res.index.equals(frame.index)
    p = frame.molood.pvalue(model=tiny_model_path)
    pd.testing.assert_series_equal(p, res["molood_pvalue"])
    assert (res["molood_status"] == "ok").sum() == res["molood_score"].notna().sum()


def test_same_numbers_as_screen(tmp_path, library_csv, tiny_model_path):
    out = tmp_path / "out.parquet"
    molood.screen(library_csv, out, model=tiny_model_path)
    cli = pd.read_parquet(out)
    df = pd.read_csv(library_csv, keep_default_na=False)
    res = df.molood.screen(model=tiny_model_path)
    np.testing.assert_array_equal(res["molood_score"].to_numpy(),
                                  cli["molood_score"].to_numpy(float))
    np.testing.assert_array_equal(res["molood_pvalue"].to_numpy(),
                                  cli["molood_pvalue"].to_numpy(float))
    assert res["molood_is_ood"].astype(object).where(res["molood_is_ood"].notna(), None).tolist() \
        == cli["molood_is_ood"].astype(object).where(cli["molood_is_ood"].notna(), None).tolist()
    assert res["molood_status"].tolist() == cli["molood_status"].tolist()


def test_smiles_col_and_errors(tiny_model_path):
    df = pd.DataFrame({"Canonical_SMILES": ["CCO", "C"], "x": [1, 2]})
    assert df.molood.score(model=tiny_model_path).notna().all()
    from molood.io.readers import MoloodInputError

    with pytest.raises(MoloodInputError, match="columns are"):
        pd.DataFrame({"a": ["CCO"]}).molood.score(model=tiny_model_path)
    with pytest.raises(MoloodInputError, match="no column 'b'"):
        df.molood.score(smiles_col="b", model=tiny_model_path)


@pytest.mark.parametrize("dtype", [object, "string", "str"])
def test_missing_values_are_empty(tiny_model_path, dtype):
    df = pd.DataFrame({"smiles": pd.Series(["CCO", None, ""], dtype=dtype)})
    res = df.molood.screen(model=tiny_model_path)
    assert res["molood_status"].tolist() == ["ok", "empty", "empty"]


def test_empty_frame(tiny_model_path):
    s = pd.DataFrame({"smiles": pd.Series([], dtype=object)}).molood.score(model=tiny_model_path)
    assert len(s) == 0 and s.dtype == np.float64


def test_model_loaded_once(tmp_path, tiny_model_path, monkeypatch):
    import molood.persist

    copy = tmp_path / "m.molood"
    copy.write_bytes(tiny_model_path.read_bytes())
    calls = []
    real = molood.persist.load_model
    monkeypatch.setattr(molood.persist, "load_model", lambda p=None: calls.append(p) or real(p))
    df = pd.DataFrame({"smiles": ["CCO"]})
    for _ in range(3):
        df.molood.score(model=copy)
    df.molood.flag(model=str(copy))
    assert len(calls) == 1


def test_in_memory_detector(tiny_model, tiny_model_path):
    df = pd.DataFrame({"smiles": ["CCO", "c1ccccc1", "xx"]})
    a = df.molood.score(model=tiny_model)
    b = df.molood.score(model=tiny_model_path)
    pd.testing.assert_series_equal(a, b)


def test_import_is_light():
    code = ("import sys, pandas as pd, molood; pd.DataFrame({'smiles': []}).molood; "
            "print(any(m in sys.modules for m in ('torch', 'dgl', 'rdkit')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
