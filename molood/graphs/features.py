"""Graph-level node features computed from :class:`~molood.graphs.arrays.GraphArrays` alone:
the topological view's random-walk returns + degree one-hot, and the coding-tree leaves' input.

numpy only (random-walk returns: :mod:`.randomwalk`); used for molecules and generic (TU)
graphs alike.
"""

from __future__ import annotations

import numpy as np

from molood.graphs.arrays import GraphArrays
from molood.graphs.randomwalk import RW_DIM, rw_returns

__all__ = ["topo_features", "leaf_features", "one_hot", "RW_DIM", "TOPO_DEG_DIM", "LEAF_DEG_DIM"]

TOPO_DEG_DIM = 16  # degree one-hot of the topological view, index min(deg, 15)
LEAF_DEG_DIM = 11  # degree one-hot appended to tree leaves, index min(deg, 10)


def one_hot(index: np.ndarray, dim: int) -> np.ndarray:
    """float32 [n, dim] with a 1 at ``index[i]`` in row i."""
    out = np.zeros((index.shape[0], dim), dtype=np.float32)
    out[np.arange(index.shape[0]), index] = 1.0
    return out


def topo_features(ga: GraphArrays) -> np.ndarray:
    """Topological-view node features P (spec §2): float32 [N, 32] =
    [random-walk return probabilities k = 1..16 ‖ degree one-hot, index min(deg, 15)]."""
    deg = ga.degree
    return np.concatenate([rw_returns(ga), one_hot(np.minimum(deg, TOPO_DEG_DIM - 1),
                                                     TOPO_DEG_DIM)], axis=1)


def leaf_features(ga: GraphArrays) -> np.ndarray:
    """Tree-leaf input (spec §2 ``deg_x``): float32 [N, F_leaf + 11] =
    [leaf_x ‖ degree one-hot, index min(deg, 10)] (20 dims for molecules)."""
    deg = ga.degree
    return np.concatenate([ga.leaf_x.astype(np.float32),
                           one_hot(np.minimum(deg, LEAF_DEG_DIM - 1), LEAF_DEG_DIM)], axis=1)
