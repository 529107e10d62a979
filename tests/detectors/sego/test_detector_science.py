"""The numbers that make SEGODetector a detector, recomputed independently of the detector.

- the final score rebuilt by hand from the raw losses and the z-score statistics (both modes),
  with atom counts from RDKit (of the standardised molecules);
- the calibration set is the held-out share, disjoint from training, and default-mode
  statistics are the held-out losses' mean / population std;
- the conformal flag rate on unseen ID molecules matches fpr within a computed bound;
- the bundled model separates arsenic trioxide from ethanol;
- predict / pvalue / threshold agree, including on exact ties with the calibration scores.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

os.environ.setdefault("DGLBACKEND", "pytorch")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from rdkit import Chem  # noqa: E402

from molood.chem.standardize import resolve_standardizer, standardize_mol  # noqa: E402
from molood.detectors.sego.detector import SEGODetector  # noqa: E402

DATA = Path(__file__).resolve().parents[3] / "data"
FREESOLV = pd.read_csv(DATA / "freesolv.csv")["smiles"].tolist()
SMALL = dict(hidden_dim=16, batch_size=64, verbose=False)
FIT = FREESOLV[:200]
VAL_FRACTION = 0.25
SEED = 0

QUERY = ["C", "O", "[Na+]", "CCO", "c1ccccc1", "CC(=O)O", "ClC(Cl)Cl", "[Na+].[Cl-]",
         "O1[As]2O[As]3O[As]1O[As](O2)O3", "CN1CCC[C@H]1c1cccnc1", "not_a_smiles",
         "CC(C)Cc1ccc(cc1)C(C)C(=O)O"] + FREESOLV[300:320]
ARSENIC_TRIOXIDE = "O1[As]2O[As]3O[As]1O[As](O2)O3"


@pytest.fixture(scope="module", params=["default", "faithful"])
def det(request) -> SEGODetector:
    return SEGODetector(epochs=5, mode=request.param, val_fraction=VAL_FRACTION, seed=SEED,
                        **SMALL).fit(FIT)


def _held_out_split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The split the detector documents: a RandomState(seed) permutation, the first
    round(val_fraction * n) (at least 2) indices held out."""
    perm = np.random.RandomState(seed).permutation(n)
    n_val = max(int(round(val_fraction * n)), 2)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


# ------------------------------------------------------------------ score rebuilt by hand
def test_score_rebuilt_by_hand_from_components_and_stats(det):
    comps = det.score_components(QUERY)
    g, loc = comps["global"], comps["local"]
    st = det.stats_
    expected = np.full(len(QUERY), np.nan)
    for i, smi in enumerate(QUERY):
        mol = Chem.MolFromSmiles(smi)
        if mol is None:
            continue
        # atoms of the molecule scored: standardised ("[Na+].[Cl-]" -> "Cl", one atom)
        n_atoms = standardize_mol(mol, resolve_standardizer(det.standardize)).mol.GetNumAtoms()
        z_g = (g[i] - st["mu_g"]) / st["sd_g"]
        z_n = (loc[i] - st["mu_n"]) / st["sd_n"] if n_atoms > 1 else 0.0
        s = z_g + z_n
        if det.mode == "faithful":
            s += (g[i] - st["mu_t"]) / st["sd_t"]
        expected[i] = s
    got = det.score_samples(QUERY)
    assert np.isnan(got[QUERY.index("not_a_smiles")])
    assert np.isfinite(expected).sum() == len(QUERY) - 1
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(comps["score"], expected, rtol=1e-12, atol=1e-12,
                               equal_nan=True)

    # the checks above can only fail if the terms they distinguish differ
    assert abs(st["sd_n"] - 1.0) > 1e-3 and abs(st["sd_g"] - 1.0) > 1e-3
    one_atom = [QUERY.index(s) for s in ("C", "O", "[Na+]")]
    z_if_not_neutral = (loc[one_atom] - st["mu_n"]) / st["sd_n"]
    assert np.all(np.abs(z_if_not_neutral) > 1e-3)
    if det.mode == "faithful":
        assert set(st) == {"mu_t", "sd_t", "mu_g", "sd_g", "mu_n", "sd_n"}
        assert abs(st["mu_t"] - st["mu_g"]) > 1e-3 and abs(st["sd_t"] - st["sd_g"]) > 1e-3
        # faithful statistics are the last training epoch's per-graph losses: their means are
        # the last history record's mean losses
        assert st["mu_t"] == pytest.approx(det.history_[-1]["loss_tree"], rel=1e-12)
        assert st["mu_g"] == pytest.approx(det.history_[-1]["loss_global"], rel=1e-12)
    else:
        assert set(st) == {"mu_g", "sd_g", "mu_n", "sd_n"}


# ------------------------------------------------------------------ held-out calibration
def test_calibration_set_is_the_held_out_share_disjoint_from_training(det):
    n = len(FIT)
    train, held = _held_out_split(n, VAL_FRACTION, SEED)
    assert len(held) == 50 and len(train) == 150
    assert np.intersect1d(train, held).size == 0
    assert np.union1d(train, held).tolist() == list(range(n))
    # the detector's own split agrees with the documented derivation
    d_train, d_held = det._split(n)
    np.testing.assert_array_equal(d_train, train)
    np.testing.assert_array_equal(d_held, held)
    assert (det.n_train_, det.n_val_, det.n_cal_) == (150, 50, 50)
    # the negative bank is drawn from training molecules only
    bank = np.asarray(det.bank_index_)
    assert len(bank) == min(det.bank_size, len(train)) == 127
    assert np.isin(bank, train).all() and not np.isin(bank, held).any()

    # calibration scores = the held-out molecules' scores (same molecules, same numbers)
    held_smiles = [FIT[i] for i in held]
    train_smiles = [FIT[i] for i in train]
    s_held = det.score_samples(held_smiles)
    np.testing.assert_allclose(np.sort(s_held), det.cal_scores_, rtol=0, atol=1e-12)
    s_train = det.score_samples(train_smiles)
    for start in range(0, len(train) - len(held) + 1, 25):  # any 50 training molecules
        assert not np.allclose(np.sort(s_train[start:start + len(held)]), det.cal_scores_)

    if det.mode == "default":
        # default-mode z-score statistics: mean / population std of the held-out losses
        comps = det.score_components(held_smiles)
        multi = np.array([Chem.MolFromSmiles(s).GetNumAtoms() > 1 for s in held_smiles])
        g, loc = comps["global"], comps["local"][multi]
        st = det.stats_
        assert st["mu_g"] == pytest.approx(np.mean(g), rel=1e-9)
        assert st["sd_g"] == pytest.approx(np.sqrt(np.mean((g - np.mean(g)) ** 2)), rel=1e-9)
        assert st["mu_n"] == pytest.approx(np.mean(loc), rel=1e-9)
        assert st["sd_n"] == pytest.approx(np.sqrt(np.mean((loc - np.mean(loc)) ** 2)),
                                           rel=1e-9)


# ------------------------------------------------------------------ flag rate ≈ fpr
FLAG_SEEDS = (0, 1, 2, 3, 4)
N_FIT = 420  # per seed: 210 train + 210 held-out calibration (val_fraction 0.5); 222 unseen


def _flag_rate_bound(n_cal: int, n_test: int, fpr: float, n_seeds: int
                     ) -> tuple[float, float]:
    """(expected pooled flag rate, its standard deviation) for exchangeable ID queries.

    With k = floor(fpr (n_cal + 1)), a query is flagged iff its score exceeds the k-th largest
    calibration score. Given the calibration set, the flag probability r is the ID mass above
    that order statistic, r ~ Beta(k, n_cal + 1 - k) (mean k/(n_cal+1) <= fpr); given r the
    number of flags among n_test unseen molecules is Binomial(n_test, r). So per seed
    Var(rate) = Var(r) + E[r (1 - r)] / n_test. Seeds use different random splits and
    initialisations, treated as independent: the pooled rate's variance is that / n_seeds.
    (Tied scores, e.g. duplicate molecules, only make the test conservative.)
    """
    a = math.floor(fpr * (n_cal + 1) + 1e-9)  # k
    b = n_cal + 1 - a
    mean = a / (a + b)
    var_r = a * b / ((a + b) ** 2 * (a + b + 1))
    e_r1mr = mean - (var_r + mean ** 2)
    return mean, math.sqrt((var_r + e_r1mr / n_test) / n_seeds)


@pytest.fixture(scope="module")
def flag_runs() -> list[tuple[SEGODetector, list[str]]]:
    runs = []
    for seed in FLAG_SEEDS:
        order = np.random.RandomState(seed).permutation(len(FREESOLV))
        shuffled = [FREESOLV[i] for i in order]
        fit, unseen = shuffled[:N_FIT], shuffled[N_FIT:]
        det = SEGODetector(epochs=5, val_fraction=0.5, seed=seed, **SMALL).fit(fit)
        runs.append((det, unseen))
    return runs


@pytest.mark.parametrize("fpr", [0.1, 0.2])
def test_unseen_id_flag_rate_matches_fpr(flag_runs, fpr):
    n_cal = {det.n_cal_ for det, _ in flag_runs}
    n_test = {len(u) for _, u in flag_runs}
    assert n_cal == {210} and n_test == {len(FREESOLV) - N_FIT}
    flags = np.concatenate([det.predict(unseen, fpr=fpr).to_numpy(dtype=bool)
                            for det, unseen in flag_runs])
    rate = flags.mean()
    mean, sd = _flag_rate_bound(210, len(FREESOLV) - N_FIT, fpr, len(flag_runs))
    # +-3 sd (a normal approximation; the pooled count is a sum of 5 x 222 flags):
    # fpr 0.1: mean 21/211 = 0.0995, sd 0.0128 -> [0.061, 0.138]
    # fpr 0.2: mean 42/211 = 0.1991, sd 0.0171 -> [0.148, 0.250]
    # (measured today: 0.114 and 0.222). A rate of 0 fails both bounds.
    assert rate > 0
    assert abs(rate - mean) <= 3 * sd, (fpr, rate, mean, sd)


# ------------------------------------------------------------------ bundled model
def test_bundled_model_flags_arsenic_trioxide_not_ethanol():
    from molood.persist import load_model

    model = load_model()
    q = [ARSENIC_TRIOXIDE, "CCO"]
    s = model.score_samples(q)
    assert s[0] > s[1]
    assert model.predict(q).tolist() == [True, False]  # at the model's default fpr
    assert model.fpr_ == 0.05
    p = model.pvalue(q)
    assert p[0] <= model.fpr_ < p[1]
    assert s[0] > model.threshold() >= s[1]


# ------------------------------------------------------------------ predict consistency
def test_predict_equals_pvalue_and_threshold_rule(det):
    _, held = _held_out_split(len(FIT), VAL_FRACTION, SEED)
    held_smiles = [FIT[i] for i in held]
    n = det.n_cal_
    # queries: unseen molecules, odd ones, and the calibration molecules themselves (their
    # scores tie exactly with the calibration scores)
    X = QUERY + held_smiles
    valid = np.array([Chem.MolFromSmiles(s) is not None for s in X])
    s = det.score_samples(X)
    p = det.pvalue(X)
    fprs = [0.01, 0.05, 0.1, 0.2, 0.5] + [k / (n + 1) for k in (1, 2, 5, 10, 26)]
    for fpr in fprs:
        flags = det.predict(X, fpr=fpr)
        got = np.asarray(flags[valid], dtype=bool)
        np.testing.assert_array_equal(got, p[valid] <= fpr)
        np.testing.assert_array_equal(got, s[valid] > det.threshold(fpr))
        assert flags[~valid].isna().all()  # not scored: neither ID nor OOD
    assert det.threshold(0.5 / (n + 1)) == math.inf  # below 1/(n_cal+1): nothing flagged
    # the calibration molecules: the j-th largest (distinct) cal score has p = (1 + j)/(n + 1)
    assert np.unique(det.cal_scores_).size == n == 50  # no ties among these 50 molecules
    p_held = np.sort(det.pvalue(held_smiles))
    np.testing.assert_allclose(p_held, np.arange(2, n + 2) / (n + 1), rtol=0, atol=1e-14)
    # so at fpr = k/(n+1) exactly k - 1 of them are flagged (strictly fewer than fpr n)
    for k in (2, 5, 10):
        assert det.predict(held_smiles, fpr=k / (n + 1)).sum() == k - 1
