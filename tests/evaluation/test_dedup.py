"""molood.evaluation.dedup: canonical SMILES keys, cross-split duplicate removal, 1-WL graph hashes."""

from __future__ import annotations

import numpy as np

from molood.evaluation.dedup import canonical_smiles, dedup_id_test, dedup_ood, graph_hashes
from molood.graphs.arrays import GraphArrays


def test_canonical_smiles_spellings():
    c = canonical_smiles(["OCC", "C(O)C", "CCO", "c1ccccc1", "C1=CC=CC=C1", "not a smiles"])
    assert c[0] == c[1] == c[2] and c[3] == c[4] and c[5] is None
    # isomeric: stereo-isomers stay distinct
    s1, s2 = canonical_smiles(["C[C@H](N)O", "C[C@@H](N)O"])
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
    np.testing.assert_array_equal(dedup_ood(ood, id_smiles), [1, 3, 6])
    np.testing.assert_array_equal(dedup_ood(ood, id_smiles, drop_repeats=False), [1, 3, 4, 6])
    np.testing.assert_array_equal(dedup_ood(ood, id_smiles, n=2), [1, 3])
    # precomputed ID keys give the same answer
    np.testing.assert_array_equal(
        dedup_ood(ood, id_smiles, id_canonical=canonical_smiles(id_smiles)), [1, 3, 6])


def test_dedup_id_test():
    keys = canonical_smiles(["CCO", "OCC", "CCN", "CCC", "C(C)C", "CCCl", "NCC"])
    fit = np.array([0, 3])
    test = np.array([1, 2, 4, 5, 6])
    # 1 = ethanol (in fit), 4 = propane (in fit), 6 = repeat of 2 inside the test
    np.testing.assert_array_equal(dedup_id_test(keys, fit, test), [2, 5])


def test_graph_hashes():
    g = GraphArrays.from_graphs([
        (3, [(0, 1), (1, 2)]), (3, [(2, 1), (0, 2)]), (3, [(0, 1), (1, 2), (0, 2)]),
        (6, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0)]),
        (6, [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3)])])
    h = graph_hashes(g)
    assert h[0] == h[1]                 # two relabelled paths
    assert h[0] != h[2]                 # path vs triangle
    assert h[3] == h[4]                 # hexagon vs two triangles: 1-WL cannot tell (documented)
    lab = graph_hashes(g, node_colors=np.array([0, 1, 0, 1, 0, 0] + [0] * 15))
    assert lab[0] != lab[1]             # labels break the tie: centre labelled differently
