"""Hostile rows through a fitted tiny model: huge, deeply nested, thousands of fragments.

One row must never stall or sink a screen. Below ``max_atoms`` every such row scores finite
and fast (random walks are sparse, the node loss bounded in memory); above it the row is
refused with NaN and ``"too_large: N atoms (max_atoms=M)"`` before anything quadratic (or
RDKit's parser, for a plain SMILES) runs. Time limits are generous (CI machines are slow):
the point is "seconds, not minutes"; ``benchmarks/hostile.py`` measures the real cost.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from molood.chem.features import smiles_to_arrays
from molood.chem.limits import DEFAULT_MAX_ATOMS

HOSTILE = {  # name: (SMILES, atoms)
    "chain_2000": ("C" * 2000, 2000),
    "ring_2000": ("C1" + "C" * 1998 + "C1", 2000),
    "polyamide_1506": ("c1ccccc1" + "C(=O)N" * 500, 1506),
    "polyphenylene_1500": ("c1ccc(cc1)" * 250, 1500),
    "nested_1501": ("C(" * 1500 + "C" + ")" * 1500, 1501),
    "ethanol_x2000": (".".join(["CCO"] * 2000), 6000),
    "methane_x3000": (".".join(["C"] * 3000), 3000),
    "salt_x1000": (".".join(["[Na+].[Cl-]"] * 1000), 2000),
}
ORDINARY = ["CCO", "c1ccccc1", "CC(=O)Nc1ccc(O)cc1", "[Na+].[Cl-]", "C"]
SECONDS = 20.0  # per row; they take ~0.1 s


@pytest.fixture(scope="module")
def big(tiny_model_path):
    """The tiny model with the cap raised above every hostile row."""
    from molood.persist import load_model

    det = load_model(tiny_model_path)
    det.set_params(max_atoms=10_000)
    return det


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_row_scores_finite_and_fast(big, tiny_model, name):
    smiles, atoms = HOSTILE[name]
    assert smiles_to_arrays([smiles])[0].num_nodes.tolist() == [atoms]
    t0 = time.perf_counter()
    score = big.score_samples([smiles])
    assert time.perf_counter() - t0 < SECONDS
    assert np.isfinite(score).all()
    # in a batch with ordinary molecules: theirs keep their bits, the hostile one its score
    mixed = big.score_samples(ORDINARY[:2] + [smiles] + ORDINARY[2:])
    np.testing.assert_array_equal(np.delete(mixed, 2), tiny_model.score_samples(ORDINARY))
    np.testing.assert_allclose(mixed[2], score[0], rtol=1e-12)


def test_rows_above_the_cap_are_refused_with_a_reason(tiny_model, tiny_model_path):
    from molood.persist import load_model

    assert tiny_model.max_atoms == DEFAULT_MAX_ATOMS == 1000
    rows = ["C" * 5000, "CCO", HOSTILE["ethanol_x2000"][0], "C" * 1000,
            "C(" * 50_000,  # unclosed and huge: refused from the text, RDKit takes ~2 s
            "c1ccccc1" + "C(=O)N" * 3000,  # 9,006 atoms: RDKit alone would take ~1 s
            "[CH2](" * 50_000]  # not plain: RDKit's error message would be 15 GB
    t0 = time.perf_counter()
    comps = tiny_model.score_components(rows)
    assert time.perf_counter() - t0 < SECONDS
    # 2,000 ethanols: the default standardisation keeps one, which scores
    assert comps["status"].tolist()[:-1] == [
        "too_large: 5000 atoms (max_atoms=1000)", "ok", "ok",
        "ok", "too_large: 50000 atoms (max_atoms=1000)", "too_large: 9006 atoms (max_atoms=1000)"]
    whole = load_model(tiny_model_path).set_params(largest_fragment=False)  # all fragments
    assert whole.score_components(rows[2:3])["status"].tolist() == [
        "too_large: 6000 atoms (max_atoms=1000)"]
    assert comps["status"][-1].startswith("invalid_smiles: RDKit could not parse")
    scored = comps["status"] == "ok"
    assert np.isfinite(comps["score"][scored]).all() and np.isnan(comps["score"][~scored]).all()
    np.testing.assert_array_equal(tiny_model.score_samples(rows), comps["score"])


def test_cap_on_mols_graphs_and_largest_fragment(tiny_model, big):
    from rdkit import Chem

    from molood.detectors.inputs import to_graph_arrays

    mols = [Chem.MolFromSmiles("C" * 1200), Chem.MolFromSmiles("CCO")]
    assert tiny_model.score_components(mols)["status"].tolist() == [
        "too_large: 1200 atoms (max_atoms=1000)", "ok"]
    # an already featurized set: refused before any feature is computed
    ga, _ = smiles_to_arrays(["CCO", "C" * 1200, "c1ccccc1"])
    s = tiny_model.score_graphs(ga)
    assert np.isnan(s[1]) and np.isfinite(s[[0, 2]]).all()
    np.testing.assert_array_equal(s[[0, 2]], tiny_model.score_samples(["CCO", "c1ccccc1"]))
    assert to_graph_arrays(ga, max_atoms=1000)[2] == [
        None, "too_large: 1200 atoms (max_atoms=1000)", None]
    # largest_fragment: the cap applies to the kept fragment
    _, errors = smiles_to_arrays([HOSTILE["ethanol_x2000"][0], "CCO." + "C" * 1500],
                                 largest_fragment=True, max_atoms=1000)
    assert errors == [None, "too_large: 1500 atoms (max_atoms=1000)"]
    # None: no cap
    big.set_params(max_atoms=None)
    try:
        assert np.isfinite(big.score_samples(["C" * 1200])).all()
    finally:
        big.set_params(max_atoms=10_000)


def test_plain_smiles_count_equals_rdkit(freesolv_smiles):
    from rdkit import Chem

    from molood.chem.limits import plain_smiles_atoms
    from molood.chem.parse import is_plain_smiles

    rows = [s for s in freesolv_smiles if is_plain_smiles(s)] + [
        "ClC(Br)(I)F", "c1ccsc1 thiophene", "*CC*", "B(O)O", "C1.C1", "O=[N+]([O-])C"[:1]]
    for s in rows:
        assert plain_smiles_atoms(s) == Chem.MolFromSmiles(s).GetNumAtoms(), s


def test_deep_unclosed_branches_fail_fast_without_rdkits_echo():
    """RDKit echoes the whole input once per open branch on a syntax error (50,000 unclosed
    branches: a 5 GB message, 19 GB of memory, 90 s); such strings are parsed without capture."""
    from molood.chem.parse import parse_smiles

    for s in ["[CH2](" * 50_000, "C(" * 50_000 + "Q" + ")" * 50_000]:
        t0 = time.perf_counter()
        mol, reason = parse_smiles(s)
        assert time.perf_counter() - t0 < SECONDS
        assert mol is None and "branches nested 50000 deep" in reason and len(reason) < 300
    mol, reason = parse_smiles("C(" * 20 + "Q")  # small: RDKit's own message
    assert mol is None and reason.startswith("invalid_smiles: SMILES Parse Error")
    assert parse_smiles("C(" * 5000 + "C" + ")" * 5000)[0].GetNumAtoms() == 5001  # valid
