"""molood.graphs.tu: the TU text-format reader (tiny hand-written fixture + the shared data when present)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from molood.graphs.tu import read_tu, read_tu_pair, tu_label_vocab, tu_num_attributes

TESTS = Path(__file__).resolve().parents[1]  # tests/graphs/ -> tests/
TINY = TESTS / "data" / "tu_tiny"
SHARED = Path(os.environ.get("MOLOOD_SHARED_DATA", TESTS.parent.parent / "shared" / "data"))


def _undirected(g, b):
    n, e = g.graph(b)
    return n, sorted(map(tuple, e.tolist()))


def test_tiny_structure():
    g, y = read_tu(TINY, "TINY")
    assert len(g) == 3
    assert y.tolist() == [1, -1, 1] and y.dtype == np.int64
    assert g.num_nodes.tolist() == [3, 2, 3]
    # repeated line merged, self-loop dropped, one-direction edge symmetrised
    assert _undirected(g, 0) == (3, [(0, 1), (0, 2), (1, 2)])
    assert _undirected(g, 1) == (2, [(0, 1)])
    assert _undirected(g, 2) == (3, [(0, 1), (1, 2)])
    assert g.num_edges.tolist() == [6, 2, 4]
    assert not np.any(g.src == g.dst)
    pairs = set(zip(g.src.tolist(), g.dst.tolist()))
    assert pairs == {(d, s) for s, d in pairs}           # symmetric
    assert len(pairs) == len(g.src)                      # no duplicates
    assert g.degree.tolist() == [2, 2, 2, 1, 1, 1, 2, 1]


def test_tiny_features():
    g, _ = read_tu(TINY, "TINY")
    assert g.x.dtype == np.float32 and g.x.shape == (8, 1) and np.all(g.x == 1)
    assert g.leaf_x.dtype == np.float32 and g.leaf_x.shape == (8, 3 + 2)
    labels = [5, 7, 5, 7, 7, 3, 5, 3]
    vocab = [3, 5, 7]
    np.testing.assert_array_equal(g.leaf_x[:, :3], np.eye(3)[[vocab.index(v) for v in labels]])
    np.testing.assert_allclose(g.leaf_x[0, 3:], [0.5, -1.0])
    np.testing.assert_allclose(g.leaf_x[7, 3:], [-1.0, 4.5])
    g2, _ = read_tu(TINY, "TINY", use_attributes=False)
    assert g2.leaf_x.shape == (8, 3)


def test_unlabelled_gets_ones():
    g, _ = read_tu(TINY, "TINYNL")
    assert g.leaf_x.shape == (8, 1) and np.all(g.leaf_x == 1)
    assert tu_label_vocab(TINY, "TINYNL") is None and tu_num_attributes(TINY, "TINYNL") == 0


def test_pair_alignment_union_vocab_and_attr_padding():
    (a, _), (b, _) = read_tu_pair(TINY, "TINY", "TINYB")
    # union of labels {3,5,7} ∪ {7,9} = 4 columns, attributes padded to max(2, 1) = 2
    assert a.leaf_x.shape[1] == b.leaf_x.shape[1] == 4 + 2
    assert np.all(a.leaf_x[:, 3] == 0)                     # label 9 never occurs in TINY
    np.testing.assert_array_equal(b.leaf_x[:, :4], np.eye(4)[[2, 3, 3, 2]])
    np.testing.assert_allclose(b.leaf_x[:, 4], [0.1, 0.2, 0.3, 0.4])
    assert np.all(b.leaf_x[:, 5] == 0)                     # zero padding
    assert _undirected(b, 1) == (2, [(0, 1)])              # self-loop dropped
    # the ID side is unchanged apart from the zero columns
    own, _ = read_tu(TINY, "TINY")
    np.testing.assert_array_equal(a.leaf_x[:, [0, 1, 2, 4, 5]], own.leaf_x)


def test_bad_vocab_and_missing():
    with pytest.raises(ValueError, match="not in label_vocab"):
        read_tu(TINY, "TINY", label_vocab=[np.array([5, 7])])
    with pytest.raises(FileNotFoundError):
        read_tu(TINY, "NOPE")


def test_unsorted_indicator(tmp_path):
    d = tmp_path / "U"
    d.mkdir()
    (d / "U_graph_indicator.txt").write_text("2\n1\n2\n1\n")
    (d / "U_graph_labels.txt").write_text("0\n1\n")
    (d / "U_A.txt").write_text("1, 3\n2, 4\n")
    (d / "U_node_labels.txt").write_text("10\n20\n30\n40\n")
    g, _ = read_tu(tmp_path, "U")
    assert g.num_nodes.tolist() == [2, 2] and g.num_edges.tolist() == [2, 2]
    # graph 1 holds file nodes 2 and 4 (labels 20, 40), in file order
    np.testing.assert_array_equal(g.leaf_x.argmax(1), [1, 3, 0, 2])
    assert _undirected(g, 0) == (2, [(0, 1)]) and _undirected(g, 1) == (2, [(0, 1)])


@pytest.mark.shared_data
@pytest.mark.skipif(not (SHARED / "tu" / "IMDB-BINARY").exists(), reason="shared data absent")
def test_shared_imdb_and_pairs():
    g, y = read_tu(SHARED / "tu", "IMDB-BINARY")
    assert len(g) == 1000 and int(g.num_nodes.sum()) == 19773
    assert len(g.src) == 193062                        # each edge was listed twice
    assert g.leaf_x.shape == (19773, 1)
    assert sorted(set(y.tolist())) == [0, 1]
    (a, _), (b, _) = read_tu_pair(SHARED / "tu", "BZR", "COX2")
    assert a.leaf_x.shape[1] == b.leaf_x.shape[1] == 10 + 3   # union of atomic numbers + 3 coords
