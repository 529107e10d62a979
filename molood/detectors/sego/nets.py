"""SEGO networks: two GIN view encoders, the bottom-up coding-tree encoder and projection heads.

Shapes follow ``sego_method.md`` §3: D = ``hidden_dim`` (32), L = ``num_layers`` (5),
E = L·D (160). Every module here is plain ``torch.nn``; the GIN layers use
:class:`dgl.nn.GINConv` (sum aggregation, ε = 0 fixed) on a (batched) :class:`dgl.DGLGraph`.
Per-graph readouts are scatter sums over an explicit node → graph index (deterministic on CPU),
so no DGL batch metadata is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch
from torch import Tensor, nn

if TYPE_CHECKING:  # pragma: no cover
    import dgl


def GINConv(*args, **kwargs) -> nn.Module:  # noqa: N802 - stands for dgl.nn.GINConv
    """:class:`dgl.nn.GINConv`, imported on first use: scoring (:class:`InferenceNet`) needs
    no DGL, so a screening worker does not pay for importing it."""
    from molood.detectors.sego.backend import import_dgl

    return import_dgl().nn.GINConv(*args, **kwargs)

__all__ = [
    "GINEncoder",
    "ProjectionHead",
    "TreeEncoder",
    "SEGONet",
    "segment_sum",
]


def segment_sum(values: Tensor, index: Tensor, num_segments: int) -> Tensor:
    """Sum rows of ``values`` [N, d] into ``num_segments`` rows by ``index`` [N] → [S, d]."""
    out = values.new_zeros((num_segments, values.shape[1]))
    return out.index_add_(0, index, values)


def _xavier_(module: nn.Module) -> None:
    """Xavier-uniform weights, zero bias on every Linear inside ``module`` (spec §3 init)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class _MLP(nn.Sequential):
    """Linear(in, out) → ReLU → Linear(out, out): the GIN ``nn`` and projection-head shape."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int) -> None:
        super().__init__(nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim))


class ProjectionHead(_MLP):
    """Linear(dim, dim) → ReLU → Linear(dim, dim)."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim, dim, dim)


class GINEncoder(nn.Module):
    """JK-concat GIN: ``num_layers`` × [GINConv(sum, ε=0) with MLP, outer ReLU], no norm/dropout.

    ``forward(graph, feat, node_graph, num_graphs)`` returns ``(nodes [N, L·D], graphs [B, L·D])``
    where the graph embedding concatenates the per-layer *sum* readouts.
    """

    def __init__(self, in_dim: int, hidden_dim: int = 32, num_layers: int = 5) -> None:
        super().__init__()
        self.in_dim, self.hidden_dim, self.num_layers = in_dim, hidden_dim, num_layers
        self.convs = nn.ModuleList(
            GINConv(_MLP(in_dim if i == 0 else hidden_dim, hidden_dim, hidden_dim),
                    aggregator_type="sum", init_eps=0, learn_eps=False)
            for i in range(num_layers)
        )
        _xavier_(self)

    @property
    def out_dim(self) -> int:
        return self.hidden_dim * self.num_layers

    def forward(self, graph: dgl.DGLGraph, feat: Tensor, node_graph: Tensor,
                num_graphs: int) -> tuple[Tensor, Tensor]:
        h, layers = feat, []
        for conv in self.convs:
            h = torch.relu(conv(graph, h))
            layers.append(h)
        nodes = torch.cat(layers, dim=1)
        return nodes, segment_sum(nodes, node_graph, num_graphs)


class _SafeBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d that does not crash on a single row in train mode.

    Batch statistics of one row are undefined (PyTorch raises); such a call normalises with the
    running statistics instead and leaves them untouched. Happens at the root layer of a
    one-graph batch.
    """

    def forward(self, x: Tensor) -> Tensor:
        if self.training and x.shape[0] <= 1:
            return nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight,
                                            self.bias, False, 0.0, self.eps)
        return super().forward(x)


class TreeEncoder(nn.Module):
    """Bottom-up coding-tree encoder (the authors' HRN, spec §3 "Tree encoder").

    Layer l = 1..k: ``x_v = MLP_l(Σ_{c ∈ children(v)} x_c)`` with
    ``MLP_l = Linear → BN → ReLU → Linear → BN → ReLU`` (width ``hidden_dim``). Readout:
    per-graph sum of each layer 1..k, concatenated (k·D) → Linear(k·D, out_dim) → projection
    head → z_T [B, out_dim]. PyTorch default init, as in the reference.
    """

    def __init__(self, in_dim: int, hidden_dim: int = 32, height: int = 5,
                 out_dim: int = 160) -> None:
        super().__init__()
        self.in_dim, self.hidden_dim = in_dim, hidden_dim
        self.height, self.out_dim = height, out_dim
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Linear(in_dim if i == 0 else hidden_dim, hidden_dim),
                          _SafeBatchNorm1d(hidden_dim), nn.ReLU(),
                          nn.Linear(hidden_dim, hidden_dim), _SafeBatchNorm1d(hidden_dim),
                          nn.ReLU())
            for i in range(height)
        )
        self.readout = nn.Linear(height * hidden_dim, out_dim)
        self.proj_head = ProjectionHead(out_dim)

    def forward(self, leaf: Tensor, parents: Sequence[Tensor], graph_ids: Sequence[Tensor],
                num_graphs: int) -> Tensor:
        """``leaf`` [N0, in_dim]; ``parents[l-1]`` [N_{l-1}] = index in layer l of each layer-(l-1)
        node's parent (batch-wide); ``graph_ids[l]`` [N_l] graph of each layer-l node."""
        if len(parents) != self.height:
            raise ValueError(f"tree has {len(parents)} parent layers, "
                             f"encoder expects {self.height}")
        h, pooled = leaf, []
        for l, mlp in enumerate(self.layers, start=1):
            n_l = graph_ids[l].shape[0]
            h = mlp(segment_sum(h, parents[l - 1], n_l))
            pooled.append(segment_sum(h, graph_ids[l], num_graphs))
        return self.proj_head(self.readout(torch.cat(pooled, dim=1)))


class SEGONet(nn.Module):
    """Everything SEGO trains: basic-view GIN f_b, topological-view GIN f_t, tree encoder and the
    four projection heads (feat_g, str_g, feat_n, str_n). The reference's unused fifth head
    (``proj_head_b``) is omitted.
    """

    def __init__(self, in_dim: int, topo_dim: int = 32, leaf_dim: int = 20, hidden_dim: int = 32,
                 num_layers: int = 5, tree_height: int = 5) -> None:
        super().__init__()
        self.encoder_b = GINEncoder(in_dim, hidden_dim, num_layers)
        self.encoder_t = GINEncoder(topo_dim, hidden_dim, num_layers)
        emb = self.encoder_b.out_dim
        self.feat_g, self.str_g = ProjectionHead(emb), ProjectionHead(emb)
        self.feat_n, self.str_n = ProjectionHead(emb), ProjectionHead(emb)
        for head in (self.feat_g, self.str_g, self.feat_n, self.str_n):
            _xavier_(head)
        self.tree = TreeEncoder(leaf_dim, hidden_dim, tree_height, emb)

    def view_parameters(self) -> list[nn.Parameter]:
        """Parameters of the two GINs and the four heads (the reference's optimised set)."""
        return [p for name, p in self.named_parameters() if not name.startswith("tree.")]

    def forward(self, graph: dgl.DGLGraph, x: Tensor, topo: Tensor, node_graph: Tensor,
                num_graphs: int) -> dict[str, Tensor]:
        """Projected embeddings of both views: g_f, g_s [B, E] and n_f, n_s [N, E]."""
        nb, gb = self.encoder_b(graph, x, node_graph, num_graphs)
        nt, gt = self.encoder_t(graph, topo, node_graph, num_graphs)
        return {"g_f": self.feat_g(gb), "g_s": self.str_g(gt),
                "n_f": self.feat_n(nb), "n_s": self.str_n(nt)}

    def forward_tree(self, leaf: Tensor, parents: Sequence[Tensor], graph_ids: Sequence[Tensor],
                     num_graphs: int) -> Tensor:
        """z_T [B, E] from the coding trees of the batch."""
        return self.tree(leaf, parents, graph_ids, num_graphs)
