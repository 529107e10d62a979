"""molood.evaluation.metrics: splits, duplicate removal, metrics (vs scikit-learn), the k-NN baseline."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from molood.evaluation import metrics as ev
from molood.graphs.arrays import GraphArrays


# ------------------------------------------------------------------------------------ splits
@pytest.mark.parametrize("n", [2, 10, 642, 1128, 7823])
def test_split_sizes_disjoint_cover(n):
    s = ev.paper_split(n, seed=1)
    n_fit = int(n * 0.9)
    assert len(s.id_test) == n - n_fit
    assert len(s.cal) == int(n_fit * 0.1) and len(s.train) == n_fit - len(s.cal)
    allidx = np.concatenate([s.train, s.cal, s.id_test])
    assert len(np.unique(allidx)) == len(allidx) == n      # disjoint and covering
    assert set(allidx.tolist()) == set(range(n))
    for a in (s.train, s.cal, s.id_test):
        assert a.dtype == np.int64 and np.all(np.diff(a) > 0)
    np.testing.assert_array_equal(s.fit, np.sort(np.concatenate([s.train, s.cal])))
    assert not set(s.fit.tolist()) & set(s.id_test.tolist())


def test_split_reproducible_and_seed_dependent():
    a, b, c = ev.paper_split(1000, 3), ev.paper_split(1000, 3), ev.paper_split(1000, 4)
    for x, y in [(a.train, b.train), (a.cal, b.cal), (a.id_test, b.id_test)]:
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.id_test, c.id_test)
    tests = {tuple(ev.paper_split(500, s).id_test) for s in range(1, 6)}
    assert len(tests) == 5


def test_split_rejects_bad_input():
    with pytest.raises(ValueError):
        ev.paper_split(1, 0)
    with pytest.raises(ValueError):
        ev.paper_split(10, 0, train_frac=1.0)


# -------------------------------------------------------------------------------- duplicates
def test_canonical_smiles_spellings():
    c = ev.canonical_smiles(["OCC", "C(O)C", "CCO", "c1ccccc1", "C1=CC=CC=C1", "not a smiles"])
    assert c[0] == c[1] == c[2] and c[3] == c[4] and c[5] is None
    # isomeric: stereo-isomers stay distinct
    s1, s2 = ev.canonical_smiles(["C[C@H](N)O", "C[C@@H](N)O"])
    assert s1 != s2


def test_dedup_ood_removes_exactly_the_overlap():
    id_smiles = ["CCO", "c1ccccc1", "CC(=O)O", "C[C@H](N)O"]
    ood = [
        "OCC",              # 0 ethanol, other spelling -> drop
        "CCN",              # 1 keep
        "C1=CC=CC=C1",      # 2 benzene, Kekulé -> drop
        "C[C@@H](N)O",      # 3 other enantiomer -> keep
        "NCC",              # 4 repeat of 1 -> drop (drop_repeats)
        "OC(=O)C",          # 5 acetic acid -> drop
        "c1ccncc1",         # 6 keep
    ]
    np.testing.assert_array_equal(ev.dedup_ood(ood, id_smiles), [1, 3, 6])
    np.testing.assert_array_equal(ev.dedup_ood(ood, id_smiles, drop_repeats=False), [1, 3, 4, 6])
    np.testing.assert_array_equal(ev.dedup_ood(ood, id_smiles, n=2), [1, 3])
    # precomputed ID keys give the same answer
    np.testing.assert_array_equal(
        ev.dedup_ood(ood, id_smiles, id_canonical=ev.canonical_smiles(id_smiles)), [1, 3, 6])


def test_dedup_id_test():
    keys = ev.canonical_smiles(["CCO", "OCC", "CCN", "CCC", "C(C)C", "CCCl", "NCC"])
    fit = np.array([0, 3])
    test = np.array([1, 2, 4, 5, 6])
    # 1 = ethanol (in fit), 4 = propane (in fit), 6 = repeat of 2 inside the test
    np.testing.assert_array_equal(ev.dedup_id_test(keys, fit, test), [2, 5])


def _graphs(edge_lists, sizes):
    src, dst, ne, base = [], [], [], 0
    for n, edges in zip(sizes, edge_lists):
        s = [u + base for u, v in edges] + [v + base for u, v in edges]
        d = [v + base for u, v in edges] + [u + base for u, v in edges]
        src += s
        dst += d
        ne.append(len(s))
        base += n
    N = sum(sizes)
    return GraphArrays(np.ones((N, 1), np.float32), np.ones((N, 1), np.float32),
                       np.array(src, np.int64), np.array(dst, np.int64),
                       np.array(sizes, np.int64), np.array(ne, np.int64))


def test_graph_hashes():
    g = _graphs([[(0, 1), (1, 2)], [(2, 1), (0, 2)], [(0, 1), (1, 2), (0, 2)],
                 [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0)],
                 [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3)]], [3, 3, 3, 6, 6])
    h = ev.graph_hashes(g)
    assert h[0] == h[1]                 # two relabelled paths
    assert h[0] != h[2]                 # path vs triangle
    assert h[3] == h[4]                 # hexagon vs two triangles: 1-WL cannot tell (documented)
    lab = ev.graph_hashes(g, node_colors=np.array([0, 1, 0, 1, 0, 0] + [0] * 15))
    assert lab[0] != lab[1]             # labels break the tie: centre labelled differently


# ----------------------------------------------------------------------------------- metrics
def _vectors():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(37), np.ones(23)].astype(int)
    s = np.round(rng.normal(size=60) + 0.8 * y, 1)   # rounded: plenty of ties
    return y, s


def test_metrics_match_sklearn():
    sk = pytest.importorskip("sklearn.metrics")
    for y, s in [_vectors(), (np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])),
                 (np.array([1, 0, 1, 0, 1]), np.array([1.0, 1.0, 1.0, 1.0, 1.0]))]:
        assert ev.auroc(y, s) == pytest.approx(sk.roc_auc_score(y, s), abs=1e-12)
        assert ev.aupr(y, s) == pytest.approx(sk.average_precision_score(y, s), abs=1e-12)
        fpr, tpr, _ = sk.roc_curve(y, s, drop_intermediate=False)
        assert ev.fpr95(y, s) == pytest.approx(fpr[np.searchsorted(tpr, 0.95)], abs=1e-12)


def test_metrics_fixed_values():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8])
    assert ev.auroc(y, s) == pytest.approx(0.75)
    assert ev.aupr(y, s) == pytest.approx(0.5 * 1.0 + 0.5 * (2 / 3))
    assert ev.fpr95(y, s) == pytest.approx(0.5)
    assert ev.fpr95([0, 0, 1, 1], [0, 1, 2, 3]) == 0.0
    assert ev.auroc([0, 1], [1, 0]) == 0.0
    with pytest.raises(ValueError):
        ev.auroc([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError):
        ev.auroc([0, 1], [0.1, np.nan])


# ---------------------------------------------------------------------------------- baseline
def test_knn_tanimoto():
    train = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]
    q = ["OCC", "CC(=O)Nc1ccc(O)cc1C", "C1CCCCCCCCCC1", "[Na+].[Cl-]"]
    s = ev.knn_tanimoto_scores(train, q)
    assert s.dtype == np.float64 and s.shape == (4,)
    assert s[0] == pytest.approx(0.0)                   # same molecule, other spelling
    assert 0 < s[1] < s[2] <= 1.0
    assert np.all((s >= 0) & (s <= 1))
    with pytest.raises(ValueError, match=r"query_smiles\[0\]"):
        ev.knn_tanimoto_scores(train, ["xx"])


def test_import_is_light():
    code = ("import sys, molood.evaluation.metrics; "
            "bad = [m for m in ('torch', 'dgl', 'sklearn', 'rdkit') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_leaky_split_reproduces_the_double_draw():
    """Ablation split: same training part as paper_split, ID test mostly inside training."""
    from molood.evaluation.metrics import leaky_split, paper_split

    clean, leaky = paper_split(1000, 3), leaky_split(1000, 3)
    np.testing.assert_array_equal(leaky.train, clean.train)
    np.testing.assert_array_equal(leaky.cal, clean.cal)
    assert len(leaky.id_test) == len(clean.id_test) == 100
    assert not np.intersect1d(clean.id_test, clean.fit).size
    seen = np.isin(leaky.id_test, leaky.fit).mean()
    assert 0.8 <= seen <= 0.97  # ~90% of the "test" molecules were trained on
