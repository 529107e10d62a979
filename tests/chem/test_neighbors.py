"""Tanimoto neighbours (molood.chem.neighbors): the exact index against RDKit's own similarity,
the HNSW index against the exact one."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem, DataStructs

from molood.chem.fingerprints import mol_bitvects, packed_fingerprints
from molood.chem.neighbors import (
    EXACT_MAX_REFERENCES,
    FingerprintIndex,
    HNSWFingerprintIndex,
    _top_k,
    bits_matrix,
    make_index,
)


@pytest.fixture(scope="module")
def mols(freesolv_smiles):
    return [Chem.MolFromSmiles(s) for s in freesolv_smiles[:120]]


def test_similarities_equal_rdkit_bulk_tanimoto(mols):
    refs, queries = mols[:100], mols[100:]
    index = FingerprintIndex(packed_fingerprints(refs))
    sims = index.similarities(packed_fingerprints(queries))
    ref_fps, q_fps = mol_bitvects(refs), mol_bitvects(queries)
    expected = np.array([DataStructs.BulkTanimotoSimilarity(q, ref_fps) for q in q_fps])
    np.testing.assert_allclose(sims, expected, rtol=0, atol=1e-12)


def test_similarities_do_not_depend_on_how_queries_are_blocked(mols, monkeypatch):
    import molood.chem.neighbors as nb

    index = FingerprintIndex(packed_fingerprints(mols[:100]))
    empty = np.zeros((1, 256), dtype=np.uint8)
    queries = np.concatenate([packed_fingerprints(mols[100:]), empty])
    whole = index.similarities(queries)
    monkeypatch.setattr(nb, "_DENSE_QUERIES", 7)
    np.testing.assert_array_equal(index.similarities(queries), whole)
    assert whole.shape == (21, 100) and whole[:20].max() > 0.5 and not whole[-1].any()


def test_packed_fingerprints_are_rdkits_bits(mols):
    packed = packed_fingerprints(mols)
    assert packed.shape == (len(mols), 256) and packed.dtype == np.uint8
    for row, fp in zip(packed, mol_bitvects(mols)):
        assert np.flatnonzero(np.unpackbits(row)).tolist() == list(fp.GetOnBits())
    m = bits_matrix(packed)
    assert m.shape == (len(mols), 2048)
    for i, fp in enumerate(mol_bitvects(mols)):
        assert m.indices[m.indptr[i]:m.indptr[i + 1]].tolist() == list(fp.GetOnBits())
    assert packed_fingerprints([]).shape == (0, 256)


def test_nearest_sorted_ties_by_index_and_exclusion(mols):
    seen, distinct = set(), []
    for m in mols:
        key = packed_fingerprints([m])[0].tobytes()
        if key not in seen:
            seen.add(key)
            distinct.append(m)
    refs = distinct[:50] + distinct[:50]  # every fingerprint twice: ties everywhere
    mols = distinct
    index = FingerprintIndex(packed_fingerprints(refs))
    idx, sims = index.nearest(packed_fingerprints(mols[:10]), k=3)
    assert (idx[:, 0] == np.arange(10)).all() and (idx[:, 1] == np.arange(10) + 50).all()
    assert np.all(np.diff(sims, axis=1) <= 0)
    idx, sims = index.nearest(packed_fingerprints(mols[:10]), k=1, exclude=np.arange(10))
    assert (idx[:, 0] == np.arange(10) + 50).all() and np.allclose(sims[:, 0], 1.0)


def test_nearest_does_not_depend_on_the_other_queries(mols):
    index = FingerprintIndex(packed_fingerprints(mols[:80]))
    q = packed_fingerprints(mols[80:])
    idx, sims = index.nearest(q, k=5)
    for i in (0, 7, 39):
        one_idx, one_sims = index.nearest(q[i:i + 1], k=5)
        assert np.array_equal(one_idx[0], idx[i]) and np.array_equal(one_sims[0], sims[i])


def test_fewer_references_than_k():
    m = [Chem.MolFromSmiles(s) for s in ("CCO", "CCN")]
    idx, sims = FingerprintIndex(packed_fingerprints(m)).nearest(packed_fingerprints(m), k=4)
    assert (idx[:, 2:] == -1).all() and np.isnan(sims[:, 2:]).all()


def test_top_k_matches_a_stable_sort():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, (40, 30)).astype(float)
    for k in (1, 2, 5, 30):
        assert np.array_equal(_top_k(a, k), np.argsort(-a, axis=1, kind="stable")[:, :k])


@pytest.fixture(scope="module")
def many(freesolv_smiles):
    return [Chem.MolFromSmiles(s) for s in freesolv_smiles]


def test_hnsw_finds_what_exact_search_finds(many):
    refs, queries = many[:560], many[560:]
    exact = FingerprintIndex(packed_fingerprints(refs))
    hnsw = HNSWFingerprintIndex(packed_fingerprints(refs))
    q = packed_fingerprints(queries)
    ei, es = exact.nearest(q, k=5)
    hi, hs = hnsw.nearest(q, k=5)
    assert len(hnsw) == 560
    # a few hundred references: the graph search is as good as exhaustive
    np.testing.assert_allclose(hs, es, atol=1e-12)
    assert (np.diff(hs, axis=1) <= 0).all()  # most similar first
    np.testing.assert_array_equal(hnsw.packed(), packed_fingerprints(refs))


def test_hnsw_exclusion_batching_and_file_round_trip(many):
    packed = packed_fingerprints(many[:300])
    hnsw = HNSWFingerprintIndex(packed)
    q = packed_fingerprints(many[:40])
    idx, sims = hnsw.nearest(q, k=3, exclude=np.arange(40))
    assert not (idx == np.arange(40)[:, None]).any()  # leave-one-out: never itself
    one_by_one = [hnsw.nearest(b, k=3, exclude=np.array([i])) for i, b in enumerate(q)]
    np.testing.assert_array_equal(np.vstack([o[0] for o in one_by_one]), idx)
    again = HNSWFingerprintIndex.from_bytes(hnsw.to_bytes())
    np.testing.assert_array_equal(again.nearest(q, k=3)[0], hnsw.nearest(q, k=3)[0])
    assert again.expansion_search == hnsw.expansion_search == HNSWFingerprintIndex.EXPANSION_SEARCH
    assert HNSWFingerprintIndex.from_bytes(hnsw.to_bytes(), 7).expansion_search == 7
    # built on one thread: the same fingerprints give the same bytes
    np.testing.assert_array_equal(HNSWFingerprintIndex(packed).to_bytes(), hnsw.to_bytes())


def test_make_index_chooses_by_size(many):
    packed = packed_fingerprints(many[:50])
    assert isinstance(make_index(packed), FingerprintIndex)  # "auto", small
    assert isinstance(make_index(packed, "hnsw"), HNSWFingerprintIndex)
    assert EXACT_MAX_REFERENCES == 50_000
    with pytest.raises(ValueError, match="neighbour index"):
        make_index(packed, "fast")
