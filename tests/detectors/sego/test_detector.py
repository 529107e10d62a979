"""SEGODetector: contract, toy shift, batch invariance, calibration, modes, robustness."""

from __future__ import annotations

import os

os.environ.setdefault("DGLBACKEND", "pytorch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from rdkit import Chem  # noqa: E402

from molood.chem.features import smiles_to_arrays  # noqa: E402
from molood.detectors.sego.batching import prepare  # noqa: E402
from molood.detectors.sego.detector import SEGODetector  # noqa: E402
from molood.detectors.sego.nets import SEGONet  # noqa: E402
from molood.exceptions import NotFittedError  # noqa: E402
from molood.graphs.arrays import GraphArrays  # noqa: E402


def acyclic_molecules(n_mols: int, seed: int = 0, max_atoms: int = 10) -> list[str]:
    """Random acyclic, saturated C/N/O molecules (alkanes, alcohols, amines, ethers, ...)."""
    rng = np.random.RandomState(seed)
    val = {"C": 4, "N": 3, "O": 2}
    elems = ["C", "C", "C", "C", "N", "O"]
    out: set[str] = set()
    while len(out) < n_mols:
        n = rng.randint(2, max_atoms + 1)
        mol, free = Chem.RWMol(), []
        for i in range(n):
            e = elems[rng.randint(len(elems))]
            cand = [j for j in range(i) if free[j] > 0]
            if i and not cand:
                break
            idx = mol.AddAtom(Chem.Atom(e))
            free.append(val[e])
            if i:
                j = cand[rng.randint(len(cand))]
                mol.AddBond(j, idx, Chem.BondType.SINGLE)
                free[j] -= 1
                free[idx] -= 1
        Chem.SanitizeMol(mol)
        out.add(Chem.MolToSmiles(mol))
    pool = sorted(out)
    np.random.RandomState(seed + 1).shuffle(pool)
    return pool


AROMATIC = ["c1ccccc1", "Cc1ccccc1", "c1ccc2ccccc2c1", "c1ccncc1", "Oc1ccccc1", "Nc1ccccc1",
            "c1ccc(-c2ccccc2)cc1", "c1ccc2[nH]ccc2c1", "c1ccoc1", "c1ccsc1", "c1cnc[nH]1",
            "CCc1ccccc1", "Clc1ccccc1", "c1ccc2ncccc2c1", "O=C(O)c1ccccc1",
            "c1cc2ccc3cccc4ccc(c1)c2c34", "Cc1ccc(C)cc1", "c1ccc(Oc2ccccc2)cc1", "c1ncncn1",
            "CC(=O)Nc1ccc(O)cc1", "c1ccc2c(c1)oc1ccccc12", "COc1ccccc1", "Brc1ccccc1",
            "c1ccc(Cc2ccccc2)cc1", "n1ccccc1-c1ccccn1"]
POOL = acyclic_molecules(400)
TRAIN, UNSEEN = POOL[:250], POOL[250:]
SMALL = dict(hidden_dim=16, batch_size=64, verbose=False)


@pytest.fixture(scope="module")
def fitted() -> SEGODetector:
    return SEGODetector(epochs=20, val_fraction=0.25, **SMALL).fit(TRAIN)


# ------------------------------------------------------------------ contract
def test_init_only_stores_params_and_unfitted_raises():
    det = SEGODetector(epochs=3, mode="faithful", alpha=0.1)
    assert det.get_params()["epochs"] == 3 and det.get_params()["mode"] == "faithful"
    assert not [k for k in vars(det) if k.endswith("_")]
    assert "epochs=3" in repr(det)
    det.set_params(epochs=5)
    assert det.epochs == 5
    with pytest.raises(ValueError):
        det.set_params(nope=1)
    with pytest.raises(NotFittedError):
        det.score(["CCO"])
    with pytest.raises(ValueError, match="mode"):
        SEGODetector(mode="paper").fit(TRAIN[:10])


def test_fit_returns_self_and_sets_state(fitted):
    assert fitted.n_train_ + fitted.n_val_ == len(TRAIN) and fitted.n_val_ == 62
    assert fitted.bank_f_.shape == (127, 80) and fitted.n_cal_ == 62
    assert len(fitted.history_) == 20 and fitted.history_[0]["w_global"] == 1.0
    assert np.all(np.diff(fitted.cal_scores_) >= 0)
    assert fitted.threshold_ == fitted.threshold(0.05)


# ------------------------------------------------------------------ behaviour
def test_toy_shift_aromatic_scores_higher(fitted):
    from sklearn.metrics import roc_auc_score

    s_id, s_ood = fitted.score(UNSEEN), fitted.score(AROMATIC)
    assert s_ood.mean() > s_id.mean()
    auc = roc_auc_score(np.r_[np.zeros(len(s_id)), np.ones(len(s_ood))], np.r_[s_id, s_ood])
    assert auc > 0.8, auc


def test_calibration_identities(fitted):
    # (the flag rate on unseen ID molecules is checked against a binomial bound, over seeds, in
    # test_detector_science.py)
    # conformal identity on the calibration scores themselves
    p = fitted.pvalues_from_scores(fitted.cal_scores_)
    assert (p <= 0.1 + 1e-12).mean() <= 0.1 + 1e-12
    assert fitted.threshold(0.001) == np.inf
    s = fitted.score(UNSEEN)
    np.testing.assert_array_equal(fitted.predict(UNSEEN, fpr=0.2), s > fitted.threshold(0.2))
    np.testing.assert_allclose(fitted.decision_function(UNSEEN), s - fitted.threshold_)
    pv = fitted.pvalue(UNSEEN)
    assert np.all((pv > 0) & (pv <= 1))


QUERY = UNSEEN[:40] + AROMATIC[:10]


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_scores_independent_of_batch_order_and_neighbours(fitted, data):
    ref = fitted.score(QUERY, batch_size=512)
    idx = data.draw(st.lists(st.integers(0, len(QUERY) - 1), min_size=1, max_size=30))
    bs = data.draw(st.sampled_from([1, 3, 7, 512]))
    extra = data.draw(st.lists(st.sampled_from(TRAIN[:30] + AROMATIC), max_size=5))
    got = fitted.score([QUERY[i] for i in idx] + extra, batch_size=bs)[:len(idx)]
    np.testing.assert_array_equal(got, ref[idx])  # bit for bit


def test_score_in_batches_is_the_codes_transductive_score(fitted):
    """Paper-reproduction scoring: in-batch global term, so it depends on the batch."""
    from molood.detectors.sego.losses import global_infonce

    q = QUERY + ["not_a_smiles"]
    one = fitted.score_in_batches(q, batch_size=len(q), random_state=0)
    assert np.isnan(one[-1]) and np.isfinite(one[:-1]).all()
    np.testing.assert_array_equal(one, fitted.score_in_batches(q, batch_size=len(q)))
    comps = fitted.score_components(QUERY)
    ga, _ = smiles_to_arrays(QUERY)
    emb = fitted._embed(prepare(ga, with_leaf=False), np.arange(len(ga)), 512)
    l_g = global_infonce(emb["g_f"], emb["g_s"]).numpy()  # one batch holding every query
    np.testing.assert_allclose(one[:-1], fitted._combine(l_g, comps["local"], ga.num_nodes),
                               rtol=1e-9, atol=1e-9)
    small = fitted.score_in_batches(QUERY, batch_size=3, random_state=0)
    assert np.abs(small - one[:-1]).max() > 1e-3  # neighbours change the score


def test_invalid_smiles_in_fit_and_score():
    bad = TRAIN[:20] + ["not_a_smiles", "C1CC"]
    with pytest.raises(ValueError, match=r"row 20.*row 21"):
        SEGODetector(epochs=1, **SMALL).fit(bad)
    with pytest.warns(UserWarning, match="skipping 2"):
        det = SEGODetector(epochs=1, on_invalid="skip", **SMALL).fit(bad)
    assert det.n_fit_ == 20
    s = det.score(["CCO", "not_a_smiles", None, "CCN"])
    assert np.isnan(s[1]) and np.isnan(s[2]) and np.isfinite(s[[0, 3]]).all()
    flags = det.predict(["CCO", "not_a_smiles"])  # an unparseable molecule is neither ID nor OOD
    assert str(flags.dtype) == "boolean" and flags.isna().tolist() == [False, True]
    assert np.isnan(det.pvalue(["not_a_smiles"])[0])


def test_one_atom_edgeless_and_one_graph_batches_are_finite():
    odd = ["C", "O", "[Na+].[Cl-]", "[Cl-].[Cl-].[Ca+2]", "N", "CC", "CCO", "[NH4+].[Cl-]"]
    with pytest.warns(UserWarning, match="val_fraction=0"):
        det = SEGODetector(epochs=2, val_fraction=0.0, **{**SMALL, "batch_size": 1}
                           ).fit(odd)
    assert all(np.isfinite(v) for h in det.history_ for v in h.values())
    s = det.score(odd + ["[K+]", "[O-2].[O-2]", "c1ccccc1"])
    assert np.isfinite(s).all()
    det2 = SEGODetector(epochs=2, **SMALL).fit(TRAIN[:40] + odd)
    assert np.isfinite(det2.score(odd)).all()


def test_same_seed_same_scores_and_mols_equal_smiles():
    kw = dict(epochs=3, **SMALL)
    a = SEGODetector(seed=3, **kw).fit(TRAIN[:80])
    b = SEGODetector(seed=3, **kw).fit([Chem.MolFromSmiles(s) for s in TRAIN[:80]])
    np.testing.assert_array_equal(a.score(UNSEEN[:30]), b.score(UNSEEN[:30]))
    np.testing.assert_array_equal(a.cal_scores_, b.cal_scores_)
    np.testing.assert_array_equal(a.score(UNSEEN[:5]),
                                  a.score([Chem.MolFromSmiles(s) for s in UNSEEN[:5]]))
    c = SEGODetector(seed=4, **kw).fit(TRAIN[:80])
    assert not np.array_equal(a.score(UNSEEN[:30]), c.score(UNSEEN[:30]))


def test_score_graphs_matches_score():
    from molood.chem.features import smiles_to_arrays

    det = SEGODetector(epochs=2, **SMALL).fit(TRAIN[:60])
    ga, err = smiles_to_arrays(UNSEEN[:12])
    np.testing.assert_array_equal(det.score_graphs(ga, batch_size=5), det.score(UNSEEN[:12]))
    assert det.score_graphs(ga).dtype == np.float64


def _initial_net(det: SEGODetector) -> SEGONet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(det.seed)
        return SEGONet(det.n_features_in_, det.topo_dim_, det.leaf_dim_, det.hidden_dim,
                       det.num_layers, det.tree_height)


@pytest.mark.parametrize("mode", ["default", "faithful"])
def test_modes_train_the_right_encoders(mode):
    det = SEGODetector(epochs=2, mode=mode, **SMALL).fit(TRAIN[:100])
    init = dict(_initial_net(det).named_parameters())
    changed = {n: not torch.equal(p, init[n]) for n, p in det.net_.named_parameters()}
    for prefix in ("encoder_b.", "encoder_t.", "feat_g.", "str_g.", "feat_n.", "str_n."):
        assert all(v for n, v in changed.items() if n.startswith(prefix)), prefix
    tree = [v for n, v in changed.items() if n.startswith("tree.")]
    assert all(tree) if mode == "default" else not any(tree)
    assert ("mu_t" in det.stats_) == (mode == "faithful")
    assert np.isfinite(det.score(UNSEEN[:10])).all()


def test_generic_graphs_infer_dims():
    # TU-style: x = constant 1 (float32 [N,1]), leaf_x = 3-label one-hot; cycles and paths
    rng = np.random.RandomState(0)
    xs, leafs, src, dst, nn, ne, off = [], [], [], [], [], [], 0
    for b in range(40):
        n = rng.randint(3, 9)
        edges = [(i, (i + 1) % n) for i in range(n - (b % 2))]
        for i, j in edges:
            src += [off + i, off + j]
            dst += [off + j, off + i]
        xs.append(np.ones((n, 1), np.float32))
        leafs.append(np.eye(3, dtype=np.float32)[rng.randint(3, size=n)])
        nn.append(n)
        ne.append(2 * len(edges))
        off += n
    ga = GraphArrays(np.concatenate(xs), np.concatenate(leafs), np.array(src), np.array(dst),
                     np.array(nn), np.array(ne))
    det = SEGODetector(epochs=2, **SMALL).fit(ga)
    assert det.n_features_in_ == 1 and det.leaf_dim_ == 3 + 11
    assert np.isfinite(det.score_graphs(ga)).all() and np.isfinite(det.score(ga)).all()
    assert det.train_smiles_sha256_ is None and len(det.train_sha256_) == 64


def test_sklearn_clone_and_keyword_only_constructor():
    from sklearn.base import clone

    det = SEGODetector(epochs=3, mode="faithful", alpha=0.1)
    c = clone(det)
    assert c is not det and c.get_params() == det.get_params()
    with pytest.raises(TypeError):
        SEGODetector(3)  # keyword-only, as scikit-learn's estimators


def test_predict_on_an_unparseable_molecule_is_na_not_in_distribution(fitted):
    flags = fitted.predict(["CCO", "xx"])
    assert flags.isna().tolist() == [False, True]


def test_fit_progress_off_a_terminal_is_plain_lines(capsys, caplog, monkeypatch):
    """In a log file the training bar would be a stream of \\r-separated copies: lines instead
    (to the log when logging is configured, else straight to stderr)."""
    import logging

    from molood import _term

    monkeypatch.setattr(_term, "PROGRESS_SECONDS", 0.0)
    with caplog.at_level(logging.INFO, logger="molood"):
        SEGODetector(epochs=3, hidden_dim=8, batch_size=32, verbose=True).fit(TRAIN[:40])
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = [line for line in (err + caplog.text).splitlines() if "SEGO fit: epoch" in line]
    assert len(lines) == 3 and "SEGO fit: epoch 3/3" in lines[-1]


def test_max_steps_cuts_the_epochs_run(freesolv_smiles):
    det = SEGODetector(epochs=50, max_steps=6, batch_size=16, hidden_dim=8, val_fraction=0.1,
                       verbose=False).fit(freesolv_smiles[:40])
    assert det.epochs_ == 2 and len(det.history_) == 2  # 36 training molecules: 3 steps/epoch
    with pytest.raises(ValueError, match="max_steps"):
        SEGODetector(max_steps=0).fit(freesolv_smiles[:40])
