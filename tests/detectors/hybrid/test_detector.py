"""HybridDetector: rules, evidence, calibration, invariances, model files."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from rdkit import Chem
from sklearn.base import clone

from molood.detectors.hybrid.detector import EVIDENCE_COLUMNS, HybridDetector
from molood.persist import load_model, load_scoring_model

FOREIGN = ["[U]", "[Pt]", "[Gd+3]", "[Xe]"]


@pytest.fixture(scope="module")
def hybrid(freesolv_smiles):
    return HybridDetector(seed=0, verbose=False).fit(freesolv_smiles)


def test_unseen_elements_are_flagged_with_their_reason(hybrid):
    ev = hybrid.score_evidence(FOREIGN + ["CCO"])
    flags = np.asarray(hybrid.predict(FOREIGN + ["CCO"]), dtype=bool)
    assert flags.tolist() == [True, True, True, True, False]
    for smi, reason in zip(FOREIGN, ev["reason"][:4]):
        element = smi.strip("[]").rstrip("+3")
        assert reason == f"element {element} not in training set"
    assert ev["reason"][4] is None  # not flagged: no reason


def test_rule_outranks_every_calibration_molecule(hybrid):
    p = hybrid.pvalue(FOREIGN)
    assert np.allclose(p, 1 / (hybrid.n_cal_ + 1))


def test_a_salt_of_unseen_ions_is_no_longer_in_distribution(hybrid):
    # the example: SEGO's FreeSolv model gave [Na+].[Cl-] p = 0.79
    assert hybrid.pvalue(["[Na+].[Cl-]"])[0] < 0.05


def test_evidence_names_the_nearest_training_molecule(hybrid, freesolv_smiles):
    ev = hybrid.score_evidence(["CCO", "c1ccccc1O", "not a smiles"])
    assert ev["nearest_smiles"][:2] == ["CCO", "Oc1ccccc1"]
    assert ev["nearest_similarity"][:2] == [1.0, 1.0]
    assert ev["nearest_smiles"][2] is None and ev["status"][2].startswith("invalid_smiles")
    assert set(EVIDENCE_COLUMNS) <= set(ev)


def test_reason_for_a_flagged_drug_names_its_evidence(hybrid):
    drug = "CC(C)Cc1ccc(cc1)[C@@H](C)C(=O)N[C@@H](Cc1ccccc1)C(=O)N1CCN(CC1)c1ncccn1"
    ev = hybrid.score_evidence([drug])
    assert ev["reason"][0] is not None
    assert ("nearest training molecule Tanimoto" in ev["reason"][0]
            or "unusual" in ev["reason"][0])


def test_calibrates_on_every_training_molecule_without_sego(hybrid, freesolv_smiles):
    assert hybrid.n_cal_ == len(freesolv_smiles)
    assert hybrid.fpr_floor == pytest.approx(1 / (len(freesolv_smiles) + 1))
    assert np.isfinite(hybrid.threshold(0.01))  # fpr 0.01 resolvable (SEGO's model: not)


def test_held_out_flag_rate_matches_fpr(freesolv_smiles):
    rng = np.random.RandomState(0)
    perm = rng.permutation(len(freesolv_smiles))
    train = [freesolv_smiles[i] for i in perm[:500]]
    test = [freesolv_smiles[i] for i in perm[500:]]
    det = HybridDetector(seed=0, verbose=False).fit(train)
    rate = float(np.mean(np.asarray(det.predict(test, fpr=0.2), dtype=bool)))
    sd = np.sqrt(0.2 * 0.8 / len(test))
    assert abs(rate - 0.2) < 3 * sd + 0.02, rate


def test_scores_do_not_depend_on_order_batch_or_neighbours(hybrid, freesolv_smiles):
    q = freesolv_smiles[::7] + FOREIGN + ["bad", None]
    s = hybrid.score_samples(q)
    perm = np.random.RandomState(1).permutation(len(q))
    assert np.array_equal(hybrid.score_samples([q[i] for i in perm]), s[perm], equal_nan=True)
    one = np.array([hybrid.score_samples([x])[0] for x in q[:20]])
    assert np.array_equal(one, s[:20], equal_nan=True)


def test_any_spelling_one_score(hybrid):
    s = hybrid.score_samples(["OCC", "CCO", "C(O)C", "[Na+].[O-]CC"])
    assert s[0] == s[1] == s[2]


def test_model_file_round_trip(hybrid, tmp_path):
    path = tmp_path / "h.molood"
    hybrid.save(path)
    q = ["CCO", "[U]", "CC(=O)Oc1ccccc1C(=O)O", "bad"]
    ref = hybrid.score_evidence(q)
    for det in (load_model(path), load_scoring_model(path)):
        got = det.score_evidence(q)
        assert np.array_equal(got["score"], ref["score"], equal_nan=True)
        for c in EVIDENCE_COLUMNS:
            assert got[c] == ref[c]
        assert det.n_cal_ == hybrid.n_cal_ and det.threshold_ == hybrid.threshold_
    other = tmp_path / "h2.molood"
    hybrid.save(other)
    assert path.read_bytes() == other.read_bytes()


def test_refit_with_the_same_seed_gives_the_same_file(freesolv_smiles, tmp_path):
    a = HybridDetector(seed=3, verbose=False).fit(freesolv_smiles[:200])
    b = HybridDetector(seed=3, verbose=False).fit(freesolv_smiles[:200])
    a.save(tmp_path / "a.molood")
    b.save(tmp_path / "b.molood")
    assert (tmp_path / "a.molood").read_bytes() == (tmp_path / "b.molood").read_bytes()


def test_clone_and_params():
    det = HybridDetector(k=3, components=("knn",), verbose=False)
    c = clone(det)
    assert c.get_params() == det.get_params() and c is not det
    assert "k=3" in repr(det)


def test_bad_components_are_refused(freesolv_smiles):
    with pytest.raises(ValueError, match="unknown component"):
        HybridDetector(components=("knn", "magic"), verbose=False).fit(freesolv_smiles[:50])
    with pytest.raises(ValueError, match="at least one"):
        HybridDetector(components=(), verbose=False).fit(freesolv_smiles[:50])


def test_fpr_below_resolution_warns_loudly(freesolv_smiles):
    det = HybridDetector(calibration_size=40, verbose=False).fit(freesolv_smiles[:200])
    assert det.n_cal_ == 40
    with pytest.warns(UserWarning, match="NOTHING CAN BE FLAGGED"):
        assert det.warn_fpr_resolution(0.01, "test")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not det.warn_fpr_resolution(0.05, "test")


def test_with_sego_calibrates_on_sego_held_out_molecules(freesolv_smiles, tmp_path):
    det = HybridDetector(components=("knn", "descriptors", "sego"), epochs=2, seed=0,
                         verbose=False).fit(freesolv_smiles[:200])
    assert np.array_equal(det.cal_index_, det.sego_.cal_index_)
    assert det.n_cal_ == det.sego_.n_cal_ == 20
    s = det.score_samples(freesolv_smiles[200:230] + FOREIGN)
    assert np.isfinite(s).all()
    det.save(tmp_path / "hs.molood")
    assert np.array_equal(load_scoring_model(tmp_path / "hs.molood").score_samples(
        freesolv_smiles[200:230] + FOREIGN), s)


def test_graphs_without_molecules_use_sego_embedding_neighbours(freesolv_smiles, tmp_path):
    from molood.chem.features import smiles_to_arrays

    ga, _ = smiles_to_arrays(freesolv_smiles[:150])
    det = HybridDetector(epochs=2, seed=0, verbose=False).fit(ga.take(np.arange(120)))
    assert det.components_ == ("embedding",)
    q = ga.take(np.arange(100, 150))
    s = det.score_samples(q)
    assert np.isfinite(s).all()
    assert np.array_equal(det.score_samples(q.take(np.arange(49, -1, -1))), s[::-1])
    det.save(tmp_path / "g.molood")
    assert np.array_equal(load_scoring_model(tmp_path / "g.molood").score_samples(q), s)
    with pytest.raises(TypeError, match="graphs without molecules"):
        det.score_samples(["CCO"])
    with pytest.raises(ValueError, match="need molecules"):
        HybridDetector(components=("knn",), verbose=False).fit(ga)


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_POOL = ["CCO", "c1ccccc1", "CC(=O)O", "[U]", "CCN(CC)CC", "bad", "OCC", "c1ccc2ccccc2c1",
         "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "[Na+].[Cl-]", "ClC(Cl)Cl", "C1CCCCC1", None, "CCCCCCCCCC"]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(_POOL), min_size=1, max_size=12))
def test_property_a_score_depends_only_on_its_molecule(hybrid, batch):
    """Any batch of molecules, in any order and with any neighbours, gives each molecule the
    score (and evidence) it gets alone."""
    ev = hybrid.score_evidence(batch)
    for i, smi in enumerate(batch):
        alone = hybrid.score_evidence([smi])
        assert np.array_equal(alone["score"], ev["score"][i:i + 1], equal_nan=True)
        for c in EVIDENCE_COLUMNS:
            assert alone[c][0] == ev[c][i]


def test_tiny_training_sets_and_a_sampled_neighbour_set(freesolv_smiles):
    tiny = HybridDetector(verbose=False).fit(["CCO", "CCN", "CCC"])  # fewer than k neighbours
    assert tiny.n_cal_ == 3 and np.isfinite(tiny.score_samples(["CCO", "c1ccccc1"])).all()
    with pytest.raises(ValueError, match="at least 3"):
        HybridDetector(verbose=False).fit(["CCO", "CCN"])
    det = HybridDetector(neighbors_size=50, seed=1, verbose=False).fit(freesolv_smiles[:200])
    assert len(det.reference_) == 50 and det.reference_.n_source == 200 and det.n_cal_ == 200
    ev = det.score_evidence(freesolv_smiles[:200])
    kept = set(det.reference_.smiles)
    assert all(s in kept for s in ev["nearest_smiles"])
    assert np.isfinite(ev["score"]).all()


def test_a_model_refuses_the_other_kind_of_input(hybrid, freesolv_smiles):
    from molood.chem.features import smiles_to_arrays

    ga, _ = smiles_to_arrays(freesolv_smiles[:5])
    with pytest.raises(TypeError, match="fitted on molecules"):
        hybrid.score_samples(ga)


def test_a_hnsw_model_scores_and_explains_like_it_was_saved(freesolv_smiles, tmp_path):
    """Large sets search a HNSW graph; the file holds it (and the fingerprints once)."""
    from safetensors.numpy import load_file

    det = HybridDetector(seed=0, verbose=False, neighbors_index="hnsw").fit(freesolv_smiles)
    exact = HybridDetector(seed=0, verbose=False).fit(freesolv_smiles)
    probe = freesolv_smiles[:20] + ["c1ccc2ccccc2c1", "CC(=O)Nc1ccc(O)cc1", "[U]"]
    # a few hundred molecules: the graph finds the exact neighbours, so the scores agree
    np.testing.assert_allclose(det.score_samples(probe), exact.score_samples(probe))
    path = tmp_path / "h.molood"
    det.save(path)
    tensors = load_file(str(path))
    assert "hybrid.neighbors.hnsw" in tensors and "reference.fingerprints" not in tensors
    for loader in (load_model, load_scoring_model):
        back = loader(path)
        np.testing.assert_array_equal(back.score_samples(probe), det.score_samples(probe))
        ev = back.score_evidence(probe)
        assert ev["nearest_smiles"] == det.score_evidence(probe)["nearest_smiles"]
    back = load_model(path)
    assert back.manifest_["neighbors"]["index"] == "hnsw"
    # the search setting the model was calibrated with is the one it scores with
    ef = back.manifest_["neighbors"]["hnsw"]["expansion_search"]
    assert ef == det.index_.expansion_search == back.index_.expansion_search
    np.testing.assert_array_equal(back.reference_.packed(), exact.reference_.packed())
    # explanations find neighbours by the graph's search (the screen's), not by a scan of all
    queries = ["c1ccc2ccccc2c1", "CC(=O)Nc1ccc(O)cc1"]
    for model in (det, back):
        calls = []
        graph = model.reference_.index
        assert graph is model.index_
        search = graph.nearest
        graph.nearest = lambda q, k, **kw: calls.append(k) or search(q, k, **kw)
        got = [[(n.index, n.similarity) for n in e.neighbours] for e in model.explain(queries)]
        k = calls[-1]  # the explanations' look-ups come after the scoring search
        assert calls.count(k) >= len(queries)
        want = [exact.reference_.nearest(Chem.MolFromSmiles(q), k) for q in queries]
        assert got == want  # a few hundred molecules: the graph finds them all
        del graph.nearest
    assert model.explain(queries)[0].neighbours[0].smiles == \
        model.score_evidence(queries[:1])["nearest_smiles"][0]
    # a fitted or loaded HNSW model pickles and deep-copies (its graph as saved bytes)
    import copy
    import pickle

    for model in (det, back):
        for twin in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
            np.testing.assert_array_equal(twin.score_samples(probe), model.score_samples(probe))
            assert twin.index_.expansion_search == model.index_.expansion_search
            assert twin.reference_.index is twin.index_


@pytest.mark.parametrize("components", [None, ("knn", "environments")])
def test_screening_blocks_do_not_change_scores_or_evidence(hybrid, freesolv_smiles, components):
    """Screening reads, profiles and frees molecules a block at a time: any block size gives
    the scores and evidence of scoring the molecules all at once."""
    from molood.screening.scoring import GRAPH_BLOCK, score_inputs

    det = hybrid if components is None else HybridDetector(
        components=components, verbose=False).fit(freesolv_smiles)
    batch = ([s for s in _POOL if s is not None] + FOREIGN + ["CN(=O)=O", "c1ccc(O)cc1", None,
             "not a smiles"]) * 3
    whole = score_inputs(det, batch, block=len(batch), fpr=0.2, smiles=True)
    assert sum(r is not None for r in whole.evidence["reason"]) >= len(FOREIGN)
    assert np.isnan(whole.scores[-2:]).all() and "ok" not in whole.status[-2:]
    for block in (1, 7, GRAPH_BLOCK):
        got = score_inputs(det, batch, block=block, fpr=0.2, smiles=True)
        np.testing.assert_array_equal(got.scores, whole.scores)
        assert got.status == whole.status and got.smiles == whole.smiles
        assert got.evidence == whole.evidence
