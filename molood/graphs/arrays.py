"""Graph sets as concatenated numpy arrays: the currency between featurizer, tree builder and model.

A :class:`GraphArrays` holds B graphs the way a batched DGL graph does (nodes and edges
concatenated, edge endpoints as *global* node indices), but in plain numpy so that it is cheap
to build in worker processes, to pickle between them, to slice and to concatenate. Molecules
(from :mod:`molood.chem.features`) and generic labelled graphs (TU datasets,
:mod:`molood.graphs.tu`) both end up here, so the model never needs to know where a graph came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

__all__ = ["GraphArrays", "select_graphs"]


@dataclass(frozen=True, eq=False)
class GraphArrays:
    """B graphs as concatenated arrays.

    Attributes
    ----------
    x : ndarray, shape [N, F]
        Basic-view node features. int64 for molecules (the 9 OGB atom features), float32 for
        generic graphs (e.g. a constant 1 column for TU sets).
    leaf_x : ndarray, shape [N, F_leaf]
        Raw tree-leaf node input before the degree one-hot is appended (spec §2 "Tree view"):
        the OGB features for molecules, the node-label one-hot for TU graphs.
    src, dst : ndarray of int64, shape [E]
        Directed edges, both directions of every undirected edge, as global node indices
        (0..N-1); edges of graph b come after those of graph b-1 and stay inside graph b.
    num_nodes, num_edges : ndarray of int64, shape [B]
        Nodes and *directed* edges per graph.
    """

    x: np.ndarray
    leaf_x: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    num_nodes: np.ndarray
    num_edges: np.ndarray

    def __post_init__(self) -> None:
        n, e = int(self.num_nodes.sum()), int(self.num_edges.sum())
        if self.x.shape[0] != n or self.leaf_x.shape[0] != n:
            raise ValueError(f"x/leaf_x have {self.x.shape[0]}/{self.leaf_x.shape[0]} rows, "
                             f"num_nodes sums to {n}")
        if self.src.shape != (e,) or self.dst.shape != (e,):
            raise ValueError(f"src/dst must have shape ({e},), got "
                             f"{self.src.shape}/{self.dst.shape}")

    # ------------------------------------------------------------------ basic properties
    def __len__(self) -> int:
        return int(self.num_nodes.shape[0])

    @property
    def node_offsets(self) -> np.ndarray:
        """int64 [B+1]: graph b owns nodes node_offsets[b]:node_offsets[b+1]."""
        return np.concatenate([[0], np.cumsum(self.num_nodes)]).astype(np.int64)

    @property
    def edge_offsets(self) -> np.ndarray:
        """int64 [B+1]: graph b owns directed edges edge_offsets[b]:edge_offsets[b+1]."""
        return np.concatenate([[0], np.cumsum(self.num_edges)]).astype(np.int64)

    @property
    def node_graph(self) -> np.ndarray:
        """int64 [N]: the graph index of every node."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.num_nodes)

    @property
    def degree(self) -> np.ndarray:
        """int64 [N]: number of directed out-edges per node (= undirected degree, multi-edges
        counted)."""
        return np.bincount(self.src, minlength=self.x.shape[0])[: self.x.shape[0]].astype(np.int64)

    @property
    def edge_graph(self) -> np.ndarray:
        """int64 [E]: the graph index of every directed edge."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.num_edges)

    def local_edges(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Yield ``(num_nodes, src, dst)`` of every graph in order, edges in local node indices.

        Directed, as stored (both directions of every undirected edge). The one place that
        cuts the concatenated arrays into graphs; offsets are computed once per call.
        """
        no, eo = self.node_offsets, self.edge_offsets
        for b in range(len(self)):
            yield (int(self.num_nodes[b]), self.src[eo[b]:eo[b + 1]] - no[b],
                   self.dst[eo[b]:eo[b + 1]] - no[b])

    def graphs(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(num_nodes, undirected edges [m, 2] with i < j, local indices)`` per graph.

        Each undirected edge is reported once, in the order its first direction appears
        (the input format of :func:`molood.graphs.codingtree.build_coding_tree`).
        """
        for n, s, d in self.local_edges():
            keep = s < d  # both directions are stored: keep each undirected edge once
            yield n, np.stack([s[keep], d[keep]], axis=1)

    def graph(self, b: int) -> tuple[int, np.ndarray]:
        """:meth:`graphs` of graph ``b`` alone."""
        return next(self.take([b]).graphs())

    # ------------------------------------------------------------------ slicing / joining
    def take(self, index: Sequence[int] | np.ndarray) -> "GraphArrays":
        """The graphs at ``index`` (any order, repeats allowed) as a new GraphArrays."""
        index = np.asarray(index, dtype=np.int64)
        node_sel, src, dst = select_graphs(index, self.node_offsets, self.edge_offsets,
                                            self.num_nodes, self.num_edges, self.src, self.dst)
        return GraphArrays(
            x=self.x[node_sel], leaf_x=self.leaf_x[node_sel], src=src, dst=dst,
            num_nodes=self.num_nodes[index], num_edges=self.num_edges[index],
        )

    @classmethod
    def from_graphs(cls, graphs: Iterable[tuple[int, np.ndarray | Sequence]]) -> "GraphArrays":
        """Unlabelled graphs from ``(num_nodes, undirected edges [m, 2])`` pairs.

        The inverse of :meth:`graphs` (for edges given with i < j): graph b stores its edges
        as all (i, j), then all (j, i). ``x`` and ``leaf_x`` are float32 ones [N, 1], the
        constant basic view of unlabelled graphs; replace them with :func:`dataclasses.replace`.
        """
        src, dst, nn, ne, base = [], [], [], [], 0
        for n, edges in graphs:
            e = np.asarray(edges, dtype=np.int64).reshape(-1, 2) + base
            src.append(np.concatenate([e[:, 0], e[:, 1]]))
            dst.append(np.concatenate([e[:, 1], e[:, 0]]))
            nn.append(int(n))
            ne.append(2 * len(e))
            base += int(n)
        empty = np.zeros(0, dtype=np.int64)
        return cls(x=np.ones((base, 1), dtype=np.float32),
                   leaf_x=np.ones((base, 1), dtype=np.float32),
                   src=np.concatenate([empty, *src]), dst=np.concatenate([empty, *dst]),
                   num_nodes=np.array(nn, dtype=np.int64), num_edges=np.array(ne, dtype=np.int64))

    @staticmethod
    def concat(parts: Sequence["GraphArrays"]) -> "GraphArrays":
        """Concatenate graph sets in order (feature widths must agree)."""
        parts = [p for p in parts]
        if not parts:
            raise ValueError("concat needs at least one GraphArrays")
        node_base = np.cumsum([0] + [int(p.num_nodes.sum()) for p in parts[:-1]])
        return GraphArrays(
            x=np.concatenate([p.x for p in parts]),
            leaf_x=np.concatenate([p.leaf_x for p in parts]),
            src=np.concatenate([p.src + b for p, b in zip(parts, node_base)]).astype(np.int64),
            dst=np.concatenate([p.dst + b for p, b in zip(parts, node_base)]).astype(np.int64),
            num_nodes=np.concatenate([p.num_nodes for p in parts]).astype(np.int64),
            num_edges=np.concatenate([p.num_edges for p in parts]).astype(np.int64),
        )


def select_graphs(index: np.ndarray, node_offsets: np.ndarray, edge_offsets: np.ndarray,
                  num_nodes: np.ndarray, num_edges: np.ndarray, src: np.ndarray,
                  dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Graphs ``index`` (any order, repeats allowed) of a concatenated graph set.

    Works on the raw arrays rather than a :class:`GraphArrays` so that callers holding only
    offsets and edges (the model's prepared batches) slice graphs the same way.

    Returns
    -------
    node_sel : ndarray of int64 [N']
        Rows of the node arrays to take, graph by graph.
    src, dst : ndarray of int64 [E']
        The selected graphs' edges renumbered to the new node order.
    """
    nn, ne = num_nodes[index], num_edges[index]
    node_sel = _ranges(node_offsets[index], nn)
    edge_sel = _ranges(edge_offsets[index], ne)
    shift = np.repeat(np.cumsum(nn) - nn - node_offsets[index], ne)
    return node_sel, src[edge_sel] + shift, dst[edge_sel] + shift


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s+l) for each (s, l), vectorised."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    out = np.ones(total, dtype=np.int64)
    nz = lengths > 0
    s, e, L = np.asarray(starts)[nz], ends[nz], lengths[nz]
    out[0] = s[0]
    # at each segment start, jump from the previous segment's last value to the new start
    idx = (e - L)[1:]
    out[idx] = s[1:] - (s[:-1] + L[:-1] - 1)
    return np.cumsum(out)
