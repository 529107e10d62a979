"""Model-ready tensors for :class:`~.detector.SEGODetector`: a featurized graph set turned into
tensors once (:func:`prepare`), then cut into training minibatches
(:func:`minibatches`, :func:`assemble`, :func:`tree_tensors`) or gathered for a scoring forward
pass without building a DGL graph (:func:`gather`); :func:`map_row_tiles` cuts rows into the
fixed-size tiles that keep products row-independent.

Kept apart from the estimator so that its class holds the method, not the index arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import torch  # noqa: E402

from molood.graphs.arrays import GraphArrays, select_graphs  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    import dgl

__all__ = ["Prepared", "TrainingBatch", "prepare", "assemble", "gather", "tree_tensors",
           "minibatches", "map_row_tiles"]


@dataclass
class Prepared:
    """Model-ready tensors of a whole graph set, computed once (features never per batch)."""

    x: torch.Tensor          # float32 [N, F]
    topo: torch.Tensor       # float32 [N, 32]
    leaf: torch.Tensor | None  # float32 [N, F_leaf + 11] (training only)
    src: np.ndarray
    dst: np.ndarray
    num_nodes: np.ndarray
    num_edges: np.ndarray
    node_offsets: np.ndarray
    edge_offsets: np.ndarray

    def __len__(self) -> int:
        return int(self.num_nodes.shape[0])

    def select(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Node rows of graphs ``idx`` and their edges renumbered (``src``, ``dst``)."""
        node_sel, src, dst = select_graphs(idx, self.node_offsets, self.edge_offsets,
                                           self.num_nodes, self.num_edges, self.src, self.dst)
        return torch.from_numpy(node_sel), torch.from_numpy(src), torch.from_numpy(dst)


@dataclass
class TrainingBatch:
    """One training minibatch: a batched DGL graph and the node tensors aligned with it."""

    graph: dgl.DGLGraph
    x: torch.Tensor
    topo: torch.Tensor
    leaf: torch.Tensor | None
    node_graph: torch.Tensor
    num_nodes: torch.Tensor
    size: int


def prepare(ga: GraphArrays, with_leaf: bool) -> Prepared:
    from molood.graphs.features import leaf_features, topo_features

    return Prepared(
        x=torch.from_numpy(np.ascontiguousarray(ga.x, dtype=np.float32)),
        topo=torch.from_numpy(np.ascontiguousarray(topo_features(ga), dtype=np.float32)),
        leaf=(torch.from_numpy(np.ascontiguousarray(leaf_features(ga), dtype=np.float32))
              if with_leaf else None),
        src=np.asarray(ga.src, dtype=np.int64), dst=np.asarray(ga.dst, dtype=np.int64),
        num_nodes=np.asarray(ga.num_nodes, dtype=np.int64),
        num_edges=np.asarray(ga.num_edges, dtype=np.int64),
        node_offsets=ga.node_offsets, edge_offsets=ga.edge_offsets,
    )


def assemble(p: Prepared, idx: np.ndarray) -> TrainingBatch:
    """Graphs ``idx`` of ``p`` as one batched DGL graph plus aligned node tensors."""
    from molood.detectors.sego.backend import import_dgl

    dgl = import_dgl()  # only training builds DGL graphs (scoring uses gather + InferenceNet)

    sel, src, dst = p.select(idx)
    num_nodes = torch.from_numpy(p.num_nodes[idx])
    return TrainingBatch(
        graph=dgl.graph((src, dst), num_nodes=sel.shape[0]),
        x=p.x.index_select(0, sel), topo=p.topo.index_select(0, sel),
        leaf=None if p.leaf is None else p.leaf.index_select(0, sel),
        node_graph=torch.repeat_interleave(torch.arange(len(idx)), num_nodes),
        num_nodes=num_nodes, size=len(idx),
    )


def gather(p: Prepared, idx: np.ndarray
            ) -> tuple[torch.Tensor, torch.Tensor, "torch.Tensor | slice | None", np.ndarray]:
    """Edges (renumbered), node selection and node counts of graphs ``idx`` of ``p`` without
    building a DGL graph; a run of consecutive graphs is a plain slice."""
    idx = np.asarray(idx, dtype=np.int64)
    nn_ = p.num_nodes[idx]
    if len(idx) and idx[-1] - idx[0] == len(idx) - 1 and np.all(np.diff(idx) == 1):
        a, b = int(idx[0]), int(idx[-1]) + 1
        n0, n1 = int(p.node_offsets[a]), int(p.node_offsets[b])
        e0, e1 = int(p.edge_offsets[a]), int(p.edge_offsets[b])
        src = torch.from_numpy(p.src[e0:e1] - n0)
        dst = torch.from_numpy(p.dst[e0:e1] - n0)
        sel = None if (n0 == 0 and n1 == p.x.shape[0]) else slice(n0, n1)
        return src, dst, sel, nn_.copy()
    sel, src, dst = p.select(idx)
    return src, dst, sel, nn_.copy()


def tree_tensors(trees: Sequence[Any]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    from molood.graphs.trees import batch_trees

    tb = batch_trees(list(trees))
    parents = [torch.as_tensor(np.asarray(a, dtype=np.int64)) for a in tb.parents]
    graph_ids = [torch.as_tensor(np.asarray(a, dtype=np.int64)) for a in tb.graph_ids]
    return parents, graph_ids


def map_row_tiles(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                  tile: int) -> torch.Tensor:
    """``fn`` applied to ``x`` [n, d] in row tiles of exactly ``tile`` rows (the last one
    zero-padded), results concatenated and cut back to n rows.

    For products whose per-row rounding would otherwise depend on the number or position of
    the other rows (or that compile a kernel per input shape): every call sees one shape.
    """
    n = x.shape[0]
    pad = (-n) % tile
    if pad:
        x = torch.cat([x, x.new_zeros((pad, x.shape[1]))])
    return torch.cat([fn(t) for t in x.split(tile)])[:n]


def minibatches(perm: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Consecutive chunks; a trailing chunk of one graph is merged into the previous chunk
    (a one-graph batch has no in-batch negatives)."""
    chunks = [perm[i:i + batch_size] for i in range(0, len(perm), batch_size)]
    if batch_size > 1 and len(chunks) > 1 and len(chunks[-1]) == 1:
        last = chunks.pop()
        chunks[-1] = np.concatenate([chunks[-1], last])
    return chunks
