"""Graph-level node features computed from :class:`~molood.graphs.arrays.GraphArrays` alone:
the topological view's random-walk returns + degree one-hot, and the coding-tree leaves' input.

numpy only; used for molecules and generic (TU) graphs alike.
"""

from __future__ import annotations

import numpy as np

from molood.graphs.arrays import GraphArrays

__all__ = ["topo_features", "leaf_features", "one_hot", "RW_DIM", "TOPO_DEG_DIM", "LEAF_DEG_DIM"]

RW_DIM = 16  # random-walk return probabilities, k = 1..16
TOPO_DEG_DIM = 16  # degree one-hot of the topological view, index min(deg, 15)
LEAF_DEG_DIM = 11  # degree one-hot appended to tree leaves, index min(deg, 10)


def one_hot(index: np.ndarray, dim: int) -> np.ndarray:
    """float32 [n, dim] with a 1 at ``index[i]`` in row i."""
    out = np.zeros((index.shape[0], dim), dtype=np.float32)
    out[np.arange(index.shape[0]), index] = 1.0
    return out


def _rw_returns(ga: GraphArrays, steps: int = RW_DIM) -> np.ndarray:
    """diag((D^-1 A)^k), k = 1..steps, for every node: float32 [N, steps].

    Graphs are grouped by node count into padded dense stacks [B_s, n, n] so that one batched
    matmul per step serves a whole bucket (float64 inside, cast at the end). Isolated nodes have
    an all-zero row in D^-1 A (degree clamped at 1), hence 0 return probability.
    """
    N = ga.x.shape[0]
    out = np.zeros((N, steps), dtype=np.float32)
    if N == 0:
        return out
    nn = ga.num_nodes
    no = ga.node_offsets
    deg = np.maximum(ga.degree, 1).astype(np.float64)
    graph_of_edge = ga.edge_graph
    # bucket by padded size (next multiple of 8 keeps buckets few and waste small)
    padded = np.where(nn <= 8, nn, ((nn + 7) // 8) * 8)
    for size in np.unique(padded):
        if size == 0:
            continue
        gids = np.nonzero(padded == size)[0]
        B = gids.shape[0]
        local = np.full(len(ga), -1, dtype=np.int64)
        local[gids] = np.arange(B)
        emask = local[graph_of_edge] >= 0
        eb = local[graph_of_edge[emask]]
        base = no[:-1][graph_of_edge[emask]]
        s = ga.src[emask] - base
        d = ga.dst[emask] - base
        # adjacency with multi-edges counted (like A); bincount is much faster than np.add.at
        lin = (eb * size + s) * size + d
        P = np.bincount(lin, minlength=B * size * size).astype(np.float64).reshape(B, size, size)
        # node ids of the bucket, padded rows have degree 1 and no edges
        node_ids = _bucket_nodes(no, nn, gids, size)
        valid = node_ids >= 0
        dg = np.ones((B, size), dtype=np.float64)
        dg[valid] = deg[node_ids[valid]]
        P /= dg[:, :, None]
        # P^1..P^h by matmul, then diag(P^(h+j)) = rowsum(P^h * (P^j)^T): half the matmuls
        h = (steps + 1) // 2
        powers = [P]
        for _ in range(h - 1):
            powers.append(powers[-1] @ P)
        res = np.empty((B, size, steps), dtype=np.float64)
        for k in range(h):
            res[:, :, k] = np.diagonal(powers[k], axis1=1, axis2=2)
        for j in range(1, steps - h + 1):
            res[:, :, h + j - 1] = np.einsum("bij,bji->bi", powers[h - 1], powers[j - 1])
        out[node_ids[valid]] = res[valid]
    return out


def _bucket_nodes(no: np.ndarray, nn: np.ndarray, gids: np.ndarray, size: int) -> np.ndarray:
    """[B, size] global node ids of the given graphs, -1 where padded."""
    ar = np.arange(size)[None, :]
    ids = no[gids][:, None] + ar
    return np.where(ar < nn[gids][:, None], ids, -1)


def topo_features(ga: GraphArrays) -> np.ndarray:
    """Topological-view node features P (spec §2): float32 [N, 32] =
    [random-walk return probabilities k = 1..16 ‖ degree one-hot, index min(deg, 15)]."""
    deg = ga.degree
    return np.concatenate([_rw_returns(ga), one_hot(np.minimum(deg, TOPO_DEG_DIM - 1),
                                                     TOPO_DEG_DIM)], axis=1)


def leaf_features(ga: GraphArrays) -> np.ndarray:
    """Tree-leaf input (spec §2 ``deg_x``): float32 [N, F_leaf + 11] =
    [leaf_x ‖ degree one-hot, index min(deg, 10)] (20 dims for molecules)."""
    deg = ga.degree
    return np.concatenate([ga.leaf_x.astype(np.float32),
                           one_hot(np.minimum(deg, LEAF_DEG_DIM - 1), LEAF_DEG_DIM)], axis=1)
