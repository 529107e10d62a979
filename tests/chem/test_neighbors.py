"""Exact Tanimoto neighbours (molood.chem.neighbors) against RDKit's own similarity."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem, DataStructs

from molood.chem.fingerprints import mol_bitvects, packed_fingerprints
from molood.chem.neighbors import FingerprintIndex, _top_k, on_bits


@pytest.fixture(scope="module")
def mols(freesolv_smiles):
    return [Chem.MolFromSmiles(s) for s in freesolv_smiles[:120]]


def test_similarities_equal_rdkit_bulk_tanimoto(mols):
    refs, queries = mols[:100], mols[100:]
    index = FingerprintIndex(on_bits(refs))
    sims = index.similarities(on_bits(queries))
    ref_fps, q_fps = mol_bitvects(refs), mol_bitvects(queries)
    expected = np.array([DataStructs.BulkTanimotoSimilarity(q, ref_fps) for q in q_fps])
    np.testing.assert_allclose(sims, expected, rtol=0, atol=1e-12)


def test_from_packed_is_the_same_index(mols):
    a = FingerprintIndex(on_bits(mols))
    b = FingerprintIndex.from_packed(packed_fingerprints(mols))
    q = on_bits(mols[:30])
    assert np.array_equal(a.similarities(q), b.similarities(q))


def test_nearest_sorted_ties_by_index_and_exclusion(mols):
    seen, distinct = set(), []
    for m in mols:
        key = packed_fingerprints([m])[0].tobytes()
        if key not in seen:
            seen.add(key)
            distinct.append(m)
    refs = distinct[:50] + distinct[:50]  # every fingerprint twice: ties everywhere
    mols = distinct
    index = FingerprintIndex(on_bits(refs))
    idx, sims = index.nearest(on_bits(mols[:10]), k=3)
    assert (idx[:, 0] == np.arange(10)).all() and (idx[:, 1] == np.arange(10) + 50).all()
    assert np.all(np.diff(sims, axis=1) <= 0)
    idx, sims = index.nearest(on_bits(mols[:10]), k=1, exclude=np.arange(10))
    assert (idx[:, 0] == np.arange(10) + 50).all() and np.allclose(sims[:, 0], 1.0)


def test_nearest_does_not_depend_on_the_other_queries(mols):
    index = FingerprintIndex(on_bits(mols[:80]))
    q = on_bits(mols[80:])
    idx, sims = index.nearest(q, k=5)
    for i in (0, 7, 39):
        one_idx, one_sims = index.nearest([q[i]], k=5)
        assert np.array_equal(one_idx[0], idx[i]) and np.array_equal(one_sims[0], sims[i])


def test_fewer_references_than_k():
    m = [Chem.MolFromSmiles(s) for s in ("CCO", "CCN")]
    idx, sims = FingerprintIndex(on_bits(m)).nearest(on_bits(m), k=4)
    assert (idx[:, 2:] == -1).all() and np.isnan(sims[:, 2:]).all()


def test_top_k_matches_a_stable_sort():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, (40, 30)).astype(float)
    for k in (1, 2, 5, 30):
        assert np.array_equal(_top_k(a, k), np.argsort(-a, axis=1, kind="stable")[:, :k])
