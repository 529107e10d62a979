"""The streaming pass of a report: histogram, top N, counts and invalid groups, the same from
every source and batch size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from molood.report.source import frame_source, open_screened
from molood.report.summary import ScoreHistogram, summarize
from molood.exceptions import MoloodInputError


def test_histogram_counts_quantiles_and_coarse_bins():
    rng = np.random.RandomState(0)
    v = np.concatenate([rng.normal(0, 1, 10_000), [-500.0, 900.0, np.nan, np.inf]])
    h = ScoreHistogram()
    for part in np.array_split(v, 7):
        h.add(part)
    assert h.n == 10_002 and h.under == 1 and h.over == 1
    assert h.min == -500.0 and h.max == 900.0
    assert abs(h.quantile(0.5) - np.median(v[:10_000])) < 0.02
    assert h.quantile(0.0) == -500.0 and h.quantile(1.0) == 900.0
    edges, counts = h.coarse(-4, 4, 40)
    assert counts.sum() == ((v >= edges[0]) & (v < edges[-1])).sum()
    assert len(counts) in range(38, 42) and np.allclose(np.diff(edges), np.diff(edges)[0])


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.RandomState(seed)
    score = np.round(rng.normal(0, 2, n), 1)  # many ties
    score[rng.rand(n) < 0.1] = np.nan
    status = np.where(np.isnan(score), np.where(rng.rand(n) < 0.5, "empty",
                                                "invalid_smiles: bad"), "ok")
    return pd.DataFrame({"smiles": [f"C{'C' * (i % 5)}" for i in range(n)],
                         "id": [f"x{i}" for i in range(n)], "molood_score": score,
                         "molood_pvalue": np.where(np.isnan(score), np.nan, 0.5),
                         "molood_is_ood": pd.array(np.where(np.isnan(score), None, score > 2),
                                                   dtype="boolean"),
                         "molood_status": status})


@pytest.mark.parametrize("batch", [7, 100, 5000])
def test_top_n_invalid_groups_and_counts_match_pandas(batch):
    df = _frame(3000, 1)
    src = frame_source(df, "smiles")
    table = pa.Table.from_pandas(df, preserve_index=False)
    s = summarize(((b, "smiles") for b in table.to_batches(max_chunksize=batch)), "t", top=25,
                  smiles_col="smiles", id_col=src.id_col)
    want = df.dropna(subset=["molood_score"]).sort_values(
        "molood_score", ascending=False, kind="stable").head(25)
    assert [t.row for t in s.top] == want.index.tolist()  # ties: earlier row first
    assert [t.label for t in s.top] == want["id"].tolist()
    assert s.rows == 3000 and s.scored == df["molood_score"].notna().sum()
    assert s.flagged == int(df["molood_is_ood"].sum())
    empty = df.index[df["molood_status"] == "empty"].tolist()
    assert s.invalid["empty"].count == len(empty) and s.invalid["empty"].rows == empty[:5]
    assert s.invalid["invalid_smiles"].example == "invalid_smiles: bad"


def test_every_format_gives_the_same_summary(screened):
    got = {}
    for fmt, path in screened.items():
        src = open_screened(path)
        got[fmt] = summarize(src.batches(), src.path, top=5, smiles_col=src.smiles_col,
                             id_col=src.id_col, name_col=src.name_col,
                             metadata=src.metadata)
    pq, csv = got["parquet"], got["csv"]
    assert (pq.rows, pq.scored, pq.flagged) == (csv.rows, csv.scored, csv.flagged)
    assert [(t.row, t.score, t.label, t.molecule) for t in pq.top] == [
        (t.row, t.score, t.label, t.molecule) for t in csv.top]
    assert pq.top[0].label.startswith("m") and pq.id_col == "id"
    assert {k: (g.count, g.rows) for k, g in pq.invalid.items()} == {
        k: (g.count, g.rows) for k, g in csv.invalid.items()}
    assert pq.metadata["molood_model_sha256"] and not csv.metadata
    sd = got["sdf"]
    assert sd.top[0].kind == "molblock" and "M  END" in sd.top[0].molecule
    assert sd.invalid and sd.rows == sd.scored + sd.n_invalid


def test_unscreened_files_are_refused(library_csv):
    with pytest.raises(MoloodInputError, match="not a screened file"):
        open_screened(library_csv)
