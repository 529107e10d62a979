"""Smoke test of benchmarks/anomaly.py on a tiny synthetic TU set written to tmp_path."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "anomaly.py"


def _load_module():
    spec = importlib.util.spec_from_file_location("anomaly_under_test", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod   # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


def _write_tu(root: Path, name: str, seed: int = 0) -> None:
    """40 graphs: label 1 (normal) = rings of 6-9 nodes, label -1 (anomaly) = paths of 3-5."""
    rng = np.random.default_rng(seed)
    d = root / "tu" / name
    d.mkdir(parents=True)
    ind, edges, node_labels, graph_labels, base = [], [], [], [], 0
    for g in range(40):
        anomaly = g % 4 == 0
        n = int(rng.integers(3, 6) if anomaly else rng.integers(6, 10))
        ind += [g + 1] * n
        node_labels += rng.integers(0, 2, size=n).tolist()
        graph_labels.append(-1 if anomaly else 1)
        pairs = [(i, i + 1) for i in range(n - 1)] + ([] if anomaly else [(n - 1, 0)])
        for i, j in pairs:
            edges += [(base + i + 1, base + j + 1), (base + j + 1, base + i + 1)]
        base += n
    (d / f"{name}_graph_indicator.txt").write_text("".join(f"{i}\n" for i in ind))
    (d / f"{name}_graph_labels.txt").write_text("".join(f"{v}\n" for v in graph_labels))
    (d / f"{name}_node_labels.txt").write_text("".join(f"{v}\n" for v in node_labels))
    (d / f"{name}_A.txt").write_text("".join(f"{a}, {b}\n" for a, b in edges))


def test_in_batch_scores_the_whole_test_fold_as_one_batch(tmp_path):
    """`molood_inbatch` trains the model `molood` trains and scores each test fold as one
    batch (GOOD-D's AD test), so its scores are the detector's in-batch scores of the fold."""
    mod = _load_module()
    _write_tu(tmp_path, "DHFR")
    s = mod.SETS["DHFR"]
    ga, labels, n_cols = mod.load_set(s, tmp_path)
    split = mod.ad.ad_splits(labels)[0]
    args = mod.parse_args(["--data-dir", str(tmp_path), "--threads", "1"])
    got, _, _ = mod.run_method("molood_inbatch", s, ga, n_cols, split, 2, args)
    indep, _, _ = mod.run_method("molood", s, ga, n_cols, split, 2, args)
    assert got.shape == indep.shape == (len(split.test),) and np.isfinite(got).all()
    assert not np.allclose(got, indep)  # other test graphs, not the training bank, as negatives

    from molood.detectors.sego.detector import SEGODetector
    det = SEGODetector(epochs=2, batch_size=s.batch_size, lr=1e-4, alpha=s.alpha, tree_height=5,
                       seed=split.fold + 1, val_fraction=0.1, verbose=False)
    det.fit(ga.take(split.train))
    test = ga.take(split.test)
    np.testing.assert_array_equal(got, det.score_in_batches(test, batch_size=len(test),
                                                            random_state=split.fold + 1))


def test_cli_writes_the_in_batch_columns(tmp_path):
    mod = _load_module()
    _write_tu(tmp_path, "BZR")
    out_json, out_md = tmp_path / "a.json", tmp_path / "a.md"
    assert mod.main(["--data-dir", str(tmp_path), "--sets", "BZR", "--methods",
                     "molood_faithful_inbatch,wl_knn", "--seeds", "1", "--max-epochs", "2",
                     "--json", str(out_json), "--md", str(out_md)]) == 0
    recs = json.loads(out_json.read_text())["records"]
    assert sorted(r["method"] for r in recs) == ["molood_faithful_inbatch", "wl_knn"]
    assert all(0 <= r["auroc"] <= 100 for r in recs)
    md = out_md.read_text()
    assert "molood_faithful_inbatch (epochs ≤ 2)" in md and "`*_inbatch`" in md
