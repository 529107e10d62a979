"""molood.graphs.arrays: degree, per-graph edges, select_graphs, take/concat."""

from __future__ import annotations

import numpy as np
import pytest

from molood.graphs.arrays import GraphArrays, select_graphs

# path 0-1-2, a lone node, a triangle with a double edge 0-1 (multi-edges count in the degree)
GRAPHS = [(3, [(0, 1), (1, 2)]), (1, []), (3, [(0, 1), (1, 2), (0, 2), (0, 1)])]


def _ga() -> GraphArrays:
    ga = GraphArrays.from_graphs(GRAPHS)
    x = np.arange(7 * 2, dtype=np.int64).reshape(7, 2)
    return GraphArrays(x=x, leaf_x=x * 10, src=ga.src, dst=ga.dst, num_nodes=ga.num_nodes,
                       num_edges=ga.num_edges)


def test_from_graphs_layout():
    ga = GraphArrays.from_graphs([(3, [(0, 1), (1, 2)]), (2, [(0, 1)])])
    assert ga.src.tolist() == [0, 1, 1, 2, 3, 4] and ga.dst.tolist() == [1, 2, 0, 1, 4, 3]
    assert ga.num_nodes.tolist() == [3, 2] and ga.num_edges.tolist() == [4, 2]
    assert ga.x.shape == ga.leaf_x.shape == (5, 1) and ga.x.dtype == np.float32
    empty = GraphArrays.from_graphs([])
    assert len(empty) == 0 and empty.src.dtype == np.int64


def test_degree_offsets_and_graph_ids():
    ga = _ga()
    assert ga.degree.tolist() == [1, 2, 1, 0, 3, 3, 2]
    assert ga.node_offsets.tolist() == [0, 3, 4, 7]
    assert ga.edge_offsets.tolist() == [0, 4, 4, 12]
    assert ga.node_graph.tolist() == [0, 0, 0, 1, 2, 2, 2]
    assert ga.edge_graph.tolist() == [0] * 4 + [2] * 8


def test_graphs_round_trip_and_local_edges():
    ga = _ga()
    got = [(n, e.tolist()) for n, e in ga.graphs()]
    assert got == [(n, [list(p) for p in e]) for n, e in GRAPHS]
    assert [(n, e.tolist()) for n, e in map(ga.graph, range(3))] == got
    n, s, d = list(ga.local_edges())[2]
    assert n == 3
    assert s.tolist() == [0, 1, 0, 0, 1, 2, 2, 1] and d.tolist() == [1, 2, 2, 1, 0, 1, 0, 0]


def test_take_and_concat():
    ga = _ga()
    sub = ga.take([2, 0, 2])
    assert sub.num_nodes.tolist() == [3, 3, 3] and sub.num_edges.tolist() == [8, 4, 8]
    np.testing.assert_array_equal(sub.x, ga.x[[4, 5, 6, 0, 1, 2, 4, 5, 6]])
    np.testing.assert_array_equal(sub.leaf_x, sub.x * 10)
    assert [e.tolist() for _, e in sub.graphs()] == [
        [[0, 1], [1, 2], [0, 2], [0, 1]], [[0, 1], [1, 2]], [[0, 1], [1, 2], [0, 2], [0, 1]]]
    assert sub.degree.tolist() == [3, 3, 2, 1, 2, 1, 3, 3, 2]
    both = GraphArrays.concat([ga.take([0]), ga.take([1, 2])])
    for f in ("x", "leaf_x", "src", "dst", "num_nodes", "num_edges"):
        np.testing.assert_array_equal(getattr(both, f), getattr(ga, f))
    assert len(ga.take([])) == 0
    with pytest.raises(ValueError):
        GraphArrays.concat([])


def test_select_graphs_on_raw_arrays():
    ga = _ga()
    node_sel, src, dst = select_graphs(np.array([2, 1, 0]), ga.node_offsets, ga.edge_offsets,
                                       ga.num_nodes, ga.num_edges, ga.src, ga.dst)
    assert node_sel.tolist() == [4, 5, 6, 3, 0, 1, 2]
    # graph 2's edges now use nodes 0..2, graph 0's nodes 4..6
    assert src.tolist() == [0, 1, 0, 0, 1, 2, 2, 1, 4, 5, 5, 6]
    assert dst.tolist() == [1, 2, 2, 1, 0, 1, 0, 0, 5, 6, 4, 5]


def test_shape_checks():
    with pytest.raises(ValueError):
        GraphArrays(np.ones((2, 1)), np.ones((3, 1)), np.zeros(0, np.int64), np.zeros(0, np.int64),
                    np.array([2]), np.array([0]))
    with pytest.raises(ValueError):
        GraphArrays(np.ones((2, 1)), np.ones((2, 1)), np.zeros(1, np.int64), np.zeros(1, np.int64),
                    np.array([2]), np.array([2]))
