"""Smoke tests of the benchmark scripts (ood_pairs.py; anomaly.py at the end) on tiny synthetic
data written to tmp_path."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "ood_pairs.py"
AD_SCRIPT = REPO / "benchmarks" / "anomaly.py"
SHARED = Path(os.environ.get("MOLOOD_SHARED_DATA", REPO / ".." / "shared" / "data"))

ID_SMILES = ["C" * k + tail for k in range(1, 9) for tail in ("O", "N", "Cl", "C(=O)O")]  # 32
ID_SMILES += ["OCC"]                          # a second spelling of CCO: an ID repeat
OOD_SMILES = ["CCO"] + [f"c1ccc({r})cc1" for r in ("O", "N", "Cl", "C", "CC", "OC", "F", "Br")]


def _load_module(script: Path = SCRIPT):
    spec = importlib.util.spec_from_file_location(f"{script.stem}_under_test", script)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod   # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


def _write_mol_pair(root: Path) -> None:
    d = root / "moleculenet"
    d.mkdir(parents=True)
    (d / "BBBP.csv").write_text("smiles,p_np\n" + "".join(f"{s},1\n" for s in ID_SMILES))
    (d / "bace.csv").write_text("mol,Class\n" + "".join(f"{s},0\n" for s in OOD_SMILES))


def _write_tu(root: Path, name: str, n_graphs: int, lo: int, hi: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = root / "tu" / name
    d.mkdir(parents=True)
    ind, edges, labels, base = [], [], [], 0
    for g in range(n_graphs):
        n = int(rng.integers(lo, hi))
        ind += [g + 1] * n
        labels += rng.integers(0, 3, size=n).tolist()
        for i in range(1, n):                    # random tree plus one chord
            j = int(rng.integers(0, i))
            edges += [(base + i + 1, base + j + 1), (base + j + 1, base + i + 1)]
        if n > 3:
            edges += [(base + 1, base + n), (base + n, base + 1)]
        base += n
    (d / f"{name}_graph_indicator.txt").write_text("".join(f"{i}\n" for i in ind))
    (d / f"{name}_graph_labels.txt").write_text("".join("1\n" for _ in range(n_graphs)))
    (d / f"{name}_node_labels.txt").write_text("".join(f"{v}\n" for v in labels))
    (d / f"{name}_A.txt").write_text("".join(f"{a}, {b}\n" for a, b in edges))


def test_cli_knn_smoke_and_resume(tmp_path):
    _write_mol_pair(tmp_path)
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    cmd = [sys.executable, str(SCRIPT), "--data-dir", str(tmp_path), "--pairs", "bbbp-bace",
           "--seeds", "2", "--methods", "knn_tanimoto", "--json", str(out_json), "--md", str(out_md)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    data = json.loads(out_json.read_text())
    recs = data["records"]
    assert {(x["protocol"], x["seed"]) for x in recs} == {("paper", 1), ("paper", 2),
                                                          ("dedup", 1), ("dedup", 2)}
    for x in recs:
        assert set(x) >= {"pair", "method", "protocol", "seed", "auroc", "aupr", "fpr95",
                          "train_seconds", "n_id_test", "n_ood_test"}
        assert 0 <= x["auroc"] <= 100 and x["n_id_test"] == x["n_ood_test"]
        if x["protocol"] == "paper":
            assert x["n_id_test"] == 33 - int(33 * 0.9) == 4
    # dedup: the OOD set's first entry (ethanol) is in the ID set, so it is never an OOD test item
    assert data["overlap"]["bbbp-bace"]["n_id_repeat_rows"] == 1
    assert data["overlap"]["bbbp-bace"]["n_ood_skipped_in_window"] == 1
    md = out_md.read_text()
    assert "bbbp-bace" in md and "87.55" in md and "population std" in md
    # resumable: a second identical run computes nothing new
    r2 = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r2.returncode == 0 and "4 already in" in r2.stdout
    assert len(json.loads(out_json.read_text())["records"]) == 4


def test_tu_pair_with_dummy_method(tmp_path):
    mod = _load_module()
    _write_tu(tmp_path, "BZR", 30, 4, 9, seed=0)
    _write_tu(tmp_path, "COX2", 12, 9, 15, seed=1)

    def dummy(train, test, pair, seed, epochs, args):
        return test.num_nodes.astype(float), 0.0, 0.0   # OOD graphs are bigger here

    mod.METHODS["dummy"] = mod.Method("dummy", frozenset({"mol", "tu"}), dummy)
    out = tmp_path / "r.json"
    rc = mod.main(["--data-dir", str(tmp_path), "--pairs", "bzr-cox2", "--seeds", "3",
                   "--methods", "dummy", "--epochs", "2", "--json", str(out),
                   "--md", str(tmp_path / "r.md")])
    assert rc == 0
    recs = json.loads(out.read_text())["records"]
    assert len(recs) == 6 and all(r["auroc"] == 100.0 for r in recs)
    assert all(r["epochs"] == 2 and r["alpha"] == 0.5 for r in recs)
    assert "dummy [=2]" in (tmp_path / "r.md").read_text()


def test_knn_skips_tu_pairs_and_unknown_names(tmp_path):
    mod = _load_module()
    _write_tu(tmp_path, "BZR", 10, 4, 6, seed=0)
    _write_tu(tmp_path, "COX2", 10, 4, 6, seed=1)
    rc = mod.main(["--data-dir", str(tmp_path), "--pairs", "bzr-cox2", "--methods", "knn_tanimoto",
                   "--json", str(tmp_path / "r.json"), "--md", str(tmp_path / "r.md")])
    assert rc == 0 and json.loads((tmp_path / "r.json").read_text())["records"] == []
    with pytest.raises(SystemExit):
        mod.parse_args(["--pairs", "nope"])


def test_molood_two_epochs_one_fit_serves_variants_and_protocols(tmp_path):
    _write_mol_pair(tmp_path)
    out = tmp_path / "r.json"
    r = subprocess.run([sys.executable, str(SCRIPT), "--data-dir", str(tmp_path), "--pairs",
                        "bbbp-bace", "--seeds", "1", "--protocols", "paper,leaky", "--methods",
                        "molood,molood_inbatch", "--epochs", "2", "--json", str(out),
                        "--md", str(tmp_path / "r.md")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    recs = json.loads(out.read_text())["records"]
    assert {(x["method"], x["protocol"]) for x in recs} == {
        (m, p) for m in ("molood", "molood_inbatch") for p in ("paper", "leaky")}
    assert all(x["epochs"] == 2 and np.isfinite(x["auroc"]) for x in recs)
    assert len({x["train_seconds"] for x in recs}) == 1  # one fit for all four records


def test_merge_folds_parallel_result_files(tmp_path):
    mod = _load_module()
    rec = {"pair": "bbbp-bace", "method": "knn_tanimoto", "protocol": "paper", "seed": 1,
           "epochs": None, "auroc": 90.0}
    a = {"records": [rec], "overlap": {}, "invocations": []}
    b = {"records": [dict(rec, auroc=10.0), dict(rec, seed=2)], "overlap": {"x": {"n": 1}},
         "invocations": [{"argv": ["b"]}]}
    assert mod.merge_results(a, b) == 1
    assert [(x["seed"], x["auroc"]) for x in a["records"]] == [(1, 90.0), (2, 90.0)]
    assert a["overlap"] == {"x": {"n": 1}} and a["invocations"] == [{"argv": ["b"]}]


@pytest.mark.shared_data
@pytest.mark.skipif(not (SHARED / "moleculenet" / "delaney.csv").exists(), reason="shared data absent")
def test_shared_esol_muv_pair_loads_window_only():
    mod = _load_module()
    pd_ = mod.load_pair(mod.PAIRS["esol-muv"], SHARED.resolve())
    assert len(pd_.id_items) == 1128 and pd_.n_id_invalid == 0
    assert len(pd_.ood_paper) == 113 and len(pd_.ood_dedup) == 113
    assert len(set(pd_.id_keys)) < 1128                     # ESOL has repeated molecules


def test_seeds_option_takes_a_count_a_list_or_a_range():
    mod = _load_module()
    assert mod.parse_seeds("5") == [1, 2, 3, 4, 5]
    assert mod.parse_seeds("4,5") == [4, 5]
    assert mod.parse_seeds("3-5") == [3, 4, 5]
    assert mod.parse_seeds("5,1-2") == [1, 2, 5]
    for bad in ("0", "x", "2-a", "0-2", ""):
        with pytest.raises(ValueError):
            mod.parse_seeds(bad)
    with pytest.raises(SystemExit):
        mod.parse_args(["--seeds", "two"])
    assert mod.parse_args(["--seeds", "2,4"]).seed_list == [2, 4]


def _fake_results(path: Path, pair: str = "freesolv-toxcast", method: str = "molood") -> dict:
    """A results file with one finished run of ``pair`` (seed 1, both protocols): rendering
    and planning need nothing else, and no detector is fitted."""
    recs = [{"pair": pair, "method": method, "protocol": protocol, "seed": 1, "epochs": None,
             "epochs_setting": "sego.sh", "auroc": 61.0, "aupr": 60.0, "fpr95": 90.0,
             "n_train": 10, "n_id_test": 2, "n_ood_test": 2, "train_seconds": 1.0,
             "score_seconds": 0.5} for protocol in ("paper", "dedup")]
    data = {"records": recs, "overlap": {}, "invocations": []}
    path.write_text(json.dumps(data))
    return data


def test_partial_run_never_clobbers_the_committed_table(tmp_path, monkeypatch):
    """Re-running one pair into its own --json renders the table next to that JSON; the
    committed results/ood_pairs.md is written from the committed JSON only."""
    mod = _load_module()
    committed = mod.COMMITTED_MD.read_bytes()
    mod.METHODS["molood"] = mod.Method("molood", frozenset({"mol"}), None)  # never called
    x = tmp_path / "x.json"
    _fake_results(x)
    monkeypatch.setattr(mod, "epochs_for", lambda pair, args: None)  # the fake's epochs
    rc = mod.main(["--pairs", "freesolv-toxcast", "--seeds", "1", "--methods", "molood",
                   "--json", str(x), "--data-dir", str(tmp_path)])
    assert rc == 0
    md = (tmp_path / "x.md").read_text()
    assert "freesolv-toxcast" in md and "61.00" in md and "from `" + str(x) + "`" in md
    assert mod.COMMITTED_MD.read_bytes() == committed
    # rendering on request: next to the JSON as well, or where --md says
    (tmp_path / "x.md").unlink()
    assert mod.main(["--render-only", "--json", str(x)]) == 0
    assert (tmp_path / "x.md").exists()
    assert mod.main(["--render-only", "--json", str(x), "--md", str(tmp_path / "t.md")]) == 0
    assert "61.00" in (tmp_path / "t.md").read_text()
    # naming the committed table with another JSON is refused before anything runs
    with pytest.raises(SystemExit):
        mod.parse_args(["--json", str(x), "--md", str(mod.COMMITTED_MD)])
    assert mod.COMMITTED_MD.read_bytes() == committed


def test_default_table_goes_next_to_the_default_json():
    mod = _load_module()
    args = mod.parse_args([])
    assert args.json == mod.COMMITTED_JSON and args.md == mod.COMMITTED_MD
    assert mod.parse_args(["--json", "/tmp/y.json"]).md == Path("/tmp/y.md")


def test_hybrid_on_dev_pairs_one_fit_per_seed(tmp_path):
    """--dev runs the reversed pairs (here BACE as ID, BBBP as OOD); the hybrid is fitted once
    per seed for both protocols; a smaller OOD set cuts the ID test to its size."""
    _write_mol_pair(tmp_path)
    mod = _load_module()
    out = tmp_path / "r.json"
    rc = mod.main(["--dev", "--data-dir", str(tmp_path), "--pairs", "bace-bbbp", "--seeds", "2",
                   "--methods", "hybrid,hybrid_knn", "--json", str(out),
                   "--md", str(tmp_path / "r.md")])
    assert rc == 0
    recs = json.loads(out.read_text())["records"]
    assert {(r["method"], r["protocol"], r["seed"]) for r in recs} == {
        (m, p, s) for m in ("hybrid", "hybrid_knn") for p in ("paper", "dedup") for s in (1, 2)}
    for m in ("hybrid", "hybrid_knn"):
        for s in (1, 2):
            fits = {r["train_seconds"] for r in recs if r["method"] == m and r["seed"] == s}
            assert len(fits) == 1
    assert all(np.isfinite(r["auroc"]) and r["n_id_test"] == r["n_ood_test"] for r in recs)
    md = (tmp_path / "r.md").read_text()
    assert "DEVELOPMENT" in md and "| bace-bbbp | – | – |" in md


# ----------------------------------------------------------------- benchmarks/anomaly.py
def _write_ad_set(root: Path, name: str, seed: int = 0) -> None:
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
    mod = _load_module(AD_SCRIPT)
    _write_ad_set(tmp_path, "DHFR")
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
    mod = _load_module(AD_SCRIPT)
    _write_ad_set(tmp_path, "BZR")
    out_json, out_md = tmp_path / "a.json", tmp_path / "a.md"
    assert mod.main(["--data-dir", str(tmp_path), "--sets", "BZR", "--methods",
                     "molood_faithful_inbatch,wl_knn", "--seeds", "1", "--max-epochs", "2",
                     "--json", str(out_json), "--md", str(out_md)]) == 0
    recs = json.loads(out_json.read_text())["records"]
    assert sorted(r["method"] for r in recs) == ["molood_faithful_inbatch", "wl_knn"]
    assert all(0 <= r["auroc"] <= 100 for r in recs)
    md = out_md.read_text()
    assert "molood_faithful_inbatch (epochs ≤ 2)" in md and "`*_inbatch`" in md
