"""Many coding trees: deduplicated, cached, built in parallel, and batched for the model.

:mod:`molood.graphs.codingtree` builds the tree of one graph; this module is what the detector
calls for a whole training set. :func:`build_trees` keys every graph by :func:`graph_key`
(equal keys give equal trees), builds each distinct graph once, optionally across worker
processes, and remembers the result in a :class:`TreeCache`. :func:`batch_trees` concatenates
trees layer by layer into a :class:`TreeBatch`, the coding-tree analogue of a batched graph.

Parallelism goes through :func:`molood._parallel.ordered_map`, like every other process pool
in molood, so ``n_jobs`` has one meaning everywhere (:func:`molood._parallel.resolve_n_jobs`,
the scikit-learn convention: ``None``, ``0`` and ``1`` run serially in this process, ``-1``
uses all cores, ``-k`` all but ``k - 1``) and workers come from a fork server (Linux) or are
spawned, never plain-forked from a caller that may already have run torch.

numpy only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from molood._parallel import ordered_map, resolve_n_jobs
from molood.graphs.arrays import GraphArrays
from molood.graphs.codingtree import CodingTree, build_coding_tree, edge_array

__all__ = [
    "TreeBatch",
    "TreeCache",
    "batch_trees",
    "build_trees",
    "graph_key",
    "trees_for_graphs",
]


@dataclass(frozen=True)
class TreeBatch:
    """B coding trees concatenated layer by layer (numpy only; the model converts to torch).

    Attributes
    ----------
    layer_sizes : ndarray of int64, shape [B, k+1]
    parents : tuple of ndarray of int64, length k
        ``parents[l-1]`` has ``layer_sizes[:, l-1].sum()`` entries: the parent of each batch-wide
        layer-(l-1) node as an index into the batch-wide layer l (tree b's indices shifted by the
        layer-l sizes of trees 0..b-1).
    graph_ids : tuple of ndarray of int64, length k+1
        ``graph_ids[l][i]`` = the tree (0..B-1) that batch-wide layer-l node i belongs to.
    """

    layer_sizes: np.ndarray
    parents: tuple[np.ndarray, ...]
    graph_ids: tuple[np.ndarray, ...]


class TreeCache(dict):
    """A dict ``(k, graph_key) -> CodingTree`` that counts how many trees were built into it.

    Attributes
    ----------
    builds : int
        Trees built by :func:`build_trees` and stored here (cache misses, after deduplication).
    hits : int
        Requests answered from the cache or by another identical graph of the same call.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.builds = 0
        self.hits = 0


def graph_key(num_nodes: int, edges) -> bytes:
    """Canonical cache key of a graph: equal for equal (num_nodes, multiset of undirected edges).

    Edge order, edge orientation and self-loops change neither the key nor the tree (the key
    hashes :func:`~molood.graphs.codingtree.edge_array`, the builder's own view of the input).

    Parameters
    ----------
    num_nodes : int
    edges : array-like of int, shape [m, 2]

    Returns
    -------
    bytes
        A 20-byte BLAKE2b digest.
    """
    e = np.sort(edge_array(num_nodes, edges), axis=1)
    e = e[np.lexsort((e[:, 1], e[:, 0]))]
    h = hashlib.blake2b(digest_size=20)
    h.update(np.int64(num_nodes).tobytes())
    h.update(np.ascontiguousarray(e).tobytes())
    return h.digest()


def _build_many(graphs: list[tuple[int, np.ndarray]], k: int) -> list[CodingTree]:
    # module level: pickled by reference for the workers
    return [build_coding_tree(n, e, k) for n, e in graphs]


def build_trees(graphs: Sequence[tuple[int, np.ndarray]], k: int = 5, n_jobs: int | None = 1,
                cache: TreeCache | dict | None = None) -> list[CodingTree]:
    """Coding trees of many graphs, deduplicated, cached and optionally in parallel.

    Parameters
    ----------
    graphs : sequence of (num_nodes, edges [m, 2])
    k : int, default 5
    n_jobs : int or None, default 1
        Worker processes, :func:`molood._parallel.resolve_n_jobs`: None, 0 or 1 = serial in
        this process, -1 = all cores, -2 = all but one. Never more workers than distinct
        graphs to build.
    cache : TreeCache or dict or None
        Maps ``(k, graph_key(n, edges))`` to a tree; hits are reused, new trees are stored, so
        a graph is never built twice across calls sharing the cache. A :class:`TreeCache` also
        counts builds and hits.

    Returns
    -------
    list of CodingTree
        In input order; identical for every ``n_jobs`` (each tree depends on its graph only).
    """
    keys = [(k, graph_key(n, e)) for n, e in graphs]
    store = cache if cache is not None else {}
    todo: dict = {}
    for i, key in enumerate(keys):
        if key not in store and key not in todo:
            todo[key] = i
    jobs = min(resolve_n_jobs(n_jobs), max(1, len(todo)))
    work = [graphs[i] for i in todo.values()]
    # ~4 chunks per worker balance uneven graph sizes; at most 256 graphs per pickled message
    size = max(1, min(256, -(-len(work) // (4 * jobs))))
    chunks = ((work[s:s + size], k) for s in range(0, len(work), size))
    built = [t for part in ordered_map(_build_many, chunks, jobs) for t in part]
    store.update(zip(todo, built))
    if isinstance(store, TreeCache):
        store.builds += len(built)
        store.hits += len(keys) - len(built)
    return [store[key] for key in keys]


def trees_for_graphs(ga: GraphArrays, k: int = 5, n_jobs: int | None = 1,
                     cache: TreeCache | dict | None = None) -> list[CodingTree]:
    """:func:`build_trees` over every graph of a :class:`~molood.graphs.arrays.GraphArrays`."""
    return build_trees(list(ga.graphs()), k=k, n_jobs=n_jobs, cache=cache)


def batch_trees(trees: Sequence[CodingTree]) -> TreeBatch:
    """Concatenate trees of equal height into one :class:`TreeBatch`.

    Parameters
    ----------
    trees : sequence of CodingTree, length B >= 1

    Returns
    -------
    TreeBatch
        Layer 0 of the batch = the atoms of the batched graphs in order.
    """
    if not trees:
        raise ValueError("batch_trees needs at least one tree")
    k = trees[0].k
    if any(t.k != k for t in trees):
        raise ValueError(f"all trees must have the same height, got {sorted({t.k for t in trees})}")
    sizes = np.array([t.layer_sizes for t in trees], dtype=np.int64).reshape(len(trees), k + 1)
    offsets = np.cumsum(sizes, axis=0) - sizes
    ids = np.arange(len(trees), dtype=np.int64)
    parents = tuple(
        np.concatenate([t.parents[lay - 1] for t in trees]).astype(np.int64)
        + np.repeat(offsets[:, lay], sizes[:, lay - 1]) for lay in range(1, k + 1))
    graph_ids = tuple(np.repeat(ids, sizes[:, lay]) for lay in range(k + 1))
    return TreeBatch(sizes, parents, graph_ids)
