"""molood.graphs.trees: many trees (dedup, cache, n_jobs), trees of GraphArrays, batching."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import numpy as np
import pytest

import molood._parallel as parallel
from molood.graphs.arrays import GraphArrays
from molood.graphs.codingtree import CodingTree, build_coding_tree
from molood.graphs.trees import TreeCache, batch_trees, build_trees, graph_key, trees_for_graphs

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "golden_trees_sample.jsonl"
RING6 = [(i, (i + 1) % 6) for i in range(6)]


def _some_graphs() -> list[tuple[int, np.ndarray]]:
    with open(SAMPLE) as fh:
        rows = [json.loads(line) for line in fh]
    gs = [(r["num_nodes"], np.asarray(r["edges"], np.int64).reshape(-1, 2)) for r in rows]
    return gs + gs[:5] + [(1, np.zeros((0, 2), np.int64))]


def test_build_trees_is_deterministic_parallel_and_cached():
    gs = _some_graphs()
    serial = build_trees(gs, n_jobs=1)
    assert serial == [build_coding_tree(n, e) for n, e in gs]
    assert build_trees(gs, n_jobs=2) == serial
    cache = TreeCache()
    assert build_trees(gs, n_jobs=2, cache=cache) == serial
    unique = len({graph_key(n, e) for n, e in gs})
    assert unique < len(gs) and cache.builds == unique and len(cache) == unique
    assert build_trees(gs[::-1], cache=cache) == serial[::-1]
    assert cache.builds == unique  # nothing rebuilt
    assert cache.hits == 2 * len(gs) - unique
    plain: dict = {}
    build_trees(gs[:3], k=4, cache=plain)
    assert all(key[0] == 4 for key in plain)


class _NoPool:
    def __init__(self, *args, **kwargs):
        raise AssertionError("a process pool was started")


@pytest.mark.parametrize("n_jobs", [0, None, 1])
def test_n_jobs_zero_none_one_run_serially_in_process(monkeypatch, n_jobs):
    """One meaning of n_jobs everywhere (molood._parallel.resolve_n_jobs): 0 is serial."""
    gs = _some_graphs()[:6]
    monkeypatch.setattr(parallel, "ProcessPoolExecutor", _NoPool)
    assert build_trees(gs, n_jobs=n_jobs) == [build_coding_tree(n, e) for n, e in gs]


def test_parallel_workers_never_come_from_a_plain_fork(monkeypatch):
    methods = []
    real = parallel.ProcessPoolExecutor

    def spy(*args, mp_context: mp.context.BaseContext, **kwargs):
        methods.append(mp_context.get_start_method())
        return real(*args, mp_context=mp_context, **kwargs)

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", spy)
    gs = _some_graphs()
    assert build_trees(gs, n_jobs=2) == build_trees(gs, n_jobs=0)
    assert methods and all(m in ("forkserver", "spawn") for m in methods)


def test_trees_for_graph_arrays():
    gs = [(3, np.array([[0, 1], [1, 2]])), (1, np.zeros((0, 2), np.int64)), (6, np.array(RING6))]
    src = np.concatenate([np.r_[e[:, 0], e[:, 1]] + off for (_, e), off in zip(gs, [0, 3, 4])])
    dst = np.concatenate([np.r_[e[:, 1], e[:, 0]] + off for (_, e), off in zip(gs, [0, 3, 4])])
    ga = GraphArrays(x=np.zeros((10, 1), np.float32), leaf_x=np.zeros((10, 1), np.float32),
                     src=src, dst=dst, num_nodes=np.array([3, 1, 6]),
                     num_edges=np.array([4, 0, 12]))
    assert trees_for_graphs(ga) == [build_coding_tree(n, e) for n, e in gs]
    assert trees_for_graphs(ga, n_jobs=2) == trees_for_graphs(ga)


def test_batch_trees_offsets():
    a = CodingTree((3, 2, 1), (np.array([1, 0, 0]), np.array([0, 0])))
    b = CodingTree((2, 1, 1), (np.array([0, 0]), np.array([0])))
    c = CodingTree((4, 3, 1), (np.array([2, 1, 0, 0]), np.array([0, 0, 0])))
    batch = batch_trees([a, b, c])
    assert batch.layer_sizes.tolist() == [[3, 2, 1], [2, 1, 1], [4, 3, 1]]
    # layer-1 offsets 0, 2, 3; layer-2 offsets 0, 1, 2
    assert batch.parents[0].tolist() == [1, 0, 0, 2, 2, 5, 4, 3, 3]
    assert batch.parents[1].tolist() == [0, 0, 1, 2, 2, 2]
    assert batch.graph_ids[0].tolist() == [0, 0, 0, 1, 1, 2, 2, 2, 2]
    assert batch.graph_ids[1].tolist() == [0, 0, 1, 2, 2, 2]
    assert batch.graph_ids[2].tolist() == [0, 1, 2]
    assert all(p.dtype == np.int64 for p in batch.parents + batch.graph_ids)
    with pytest.raises(ValueError):
        batch_trees([])
    with pytest.raises(ValueError):
        batch_trees([a, build_coding_tree(2, [(0, 1)])])
