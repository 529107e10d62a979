"""SEGO networks: two GIN view encoders, the bottom-up coding-tree encoder and projection heads.

Shapes follow ``sego_method.md`` §3: D = ``hidden_dim`` (32), L = ``num_layers`` (5),
E = L·D (160). Every module here is plain ``torch.nn``; the GIN layers use
:class:`dgl.nn.GINConv` (sum aggregation, ε = 0 fixed) on a (batched) :class:`dgl.DGLGraph`.
Per-graph readouts are scatter sums over an explicit node → graph index (deterministic on CPU),
so no DGL batch metadata is needed.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Callable, Sequence

os.environ.setdefault("DGLBACKEND", "pytorch")

import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from molood._batching import map_row_tiles  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    import dgl


def GINConv(*args, **kwargs) -> nn.Module:  # noqa: N802 - stands for dgl.nn.GINConv
    """:class:`dgl.nn.GINConv`, imported on first use: scoring (:class:`InferenceNet`) needs
    no DGL, so a screening worker does not pay for importing it."""
    from dgl.nn import GINConv as _GINConv

    return _GINConv(*args, **kwargs)

__all__ = [
    "GINEncoder",
    "ProjectionHead",
    "TreeEncoder",
    "SEGONet",
    "segment_sum",
    "InferenceNet",
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


# ----------------------------------------------------------------------------- fast inference
_MIN_ROWS = 64
"""Smallest row count handed to a float32 matrix product. MKL's sgemm and oneDNN's matmul
compute every row of ``x @ W`` bit for bit the same whatever the number and position of the
other rows *as long as each thread gets at least 4 rows*; smaller products take another code
path whose rounding differs (~1e-6 relative). Padding short inputs with zero rows keeps a row's
result a function of that row alone. (OpenBLAS, numpy's BLAS, does not have this property: a
row's last bits there depend on its position in the matrix.)"""


def _pad_rows(x: Tensor) -> Tensor:
    n = x.shape[0]
    return x if n >= _MIN_ROWS else torch.cat([x, x.new_zeros((_MIN_ROWS - n, x.shape[1]))])


def _linear(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return torch.addmm(b, _pad_rows(x), w)[: x.shape[0]]


def _mlp(x: Tensor, p: tuple[Tensor, Tensor, Tensor, Tensor]) -> Tensor:
    """Linear → ReLU → Linear (``_MLP``) with pre-transposed weights."""
    return _linear(torch.relu_(_linear(x, p[0], p[1])), p[2], p[3])


NODE_TILE, GRAPH_TILE = 512, 256
"""Rows per oneDNN call of the node-level and graph-level projection heads (inputs are
zero-padded to a multiple; a 250-molecule scoring block is one graph tile)."""


@functools.cache
def _onednn_linear() -> "Callable[..., Tensor] | None":
    """oneDNN's fused ``linear (+ ReLU)`` on dense tensors (``torch.ops.mkldnn._linear_pointwise``,
    what ``torch.compile`` emits for a Linear on CPU), or None where torch lacks it. Probed once
    per process, not once per head."""
    if not torch.backends.mkldnn.is_available():
        return None
    try:
        op = torch.ops.mkldnn._linear_pointwise
        probe = torch.zeros(4, 4)
        op(probe, probe, probe[0], "relu", [], "")
    except (AttributeError, RuntimeError):  # pragma: no cover - a torch built without it
        return None
    return op


class _Head:
    """A projection head (Linear → ReLU → Linear, E × E) for inference.

    Runs on oneDNN (:func:`_onednn_linear`, the ReLU fused into the first product) when torch
    has it: oneDNN's JIT kernels use AVX-512 on any x86 CPU, while MKL's sgemm, torch's default
    for ``addmm``, takes a slower path on non-Intel CPUs (2x on the AMD EPYC of
    ``benchmarks/screen.py``; the four heads are most of the scoring FLOPs). The two give the
    same bits on the machines we measured; either way rows stay independent.
    """

    def __init__(self, p: tuple[Tensor, Tensor, Tensor, Tensor], tile: int) -> None:
        self.dense, self.tile = p, tile
        self._linear = _onednn_linear()
        # oneDNN wants [out, in] weights; ``p`` holds them transposed
        self._weights = (p[0].t().contiguous(), p[1], p[2].t().contiguous(), p[3])

    def __call__(self, x: Tensor) -> Tensor:
        if self._linear is None or x.dtype != torch.float32:
            return _mlp(x, self.dense)
        w1, b1, w2, b2 = self._weights
        linear = self._linear
        # Fixed-size tiles: oneDNN compiles and caches a kernel per input shape, and a cache
        # entry per distinct row count grew a worker by ~1.5 MB per batch (1 GB over 600).
        return map_row_tiles(
            lambda t: linear(linear(t, w1, b1, "relu", [], ""), w2, b2, "none", [], ""),
            x, self.tile)

    def __getstate__(self) -> dict:  # the oneDNN op does not pickle; looked up again on load
        return {"dense": self.dense, "tile": self.tile}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["dense"], state["tile"])


class InferenceNet:
    """Eval-mode forward of a :class:`SEGONet`'s two GIN views and four projection heads,
    without DGL and without autograd, in float32.

    Same maths as ``SEGONet.forward`` (GIN sum aggregation ``(1 + ε)·h_i + Σ_j h_j``, MLP, ReLU,
    JK concat, per-graph sum readout, heads), written for speed: plain ``index_add_`` message
    passing (edges in input order, so a node's sum does not depend on the other graphs), weights
    transposed once, and every matrix product row-independent (``_MIN_ROWS``). The tree encoder is
    not needed for scoring. Only the embeddings are float32; callers do the loss arithmetic in
    float64.
    """

    def __init__(self, state: dict[str, Tensor], num_layers: int) -> None:
        def mlp(prefix: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
            return tuple(state[f"{prefix}.{i}.{k}"].detach().to(torch.float32).t().contiguous()
                         if k == "weight" else
                         state[f"{prefix}.{i}.{k}"].detach().to(torch.float32).contiguous()
                         for i in (0, 2) for k in ("weight", "bias"))  # type: ignore[return-value]

        def gin(enc: str) -> list[tuple[float, tuple[Tensor, Tensor, Tensor, Tensor]]]:
            return [(float(state[f"{enc}.convs.{i}.eps"].reshape(-1)[0]),
                     mlp(f"{enc}.convs.{i}.apply_func")) for i in range(num_layers)]

        self.gin_b, self.gin_t = gin("encoder_b"), gin("encoder_t")
        self.feat_g, self.str_g = _Head(mlp("feat_g"), GRAPH_TILE), _Head(mlp("str_g"), GRAPH_TILE)
        self.feat_n, self.str_n = _Head(mlp("feat_n"), NODE_TILE), _Head(mlp("str_n"), NODE_TILE)

    @classmethod
    def from_module(cls, net: "SEGONet") -> "InferenceNet":
        return cls(net.state_dict(), net.encoder_b.num_layers)

    @staticmethod
    def _gin(layers: list, h: Tensor, src: Tensor, dst: Tensor, node_graph: Tensor,
             num_graphs: int) -> tuple[Tensor, Tensor]:
        outs = []
        for eps, p in layers:
            agg = h.new_zeros(h.shape).index_add_(0, dst, h.index_select(0, src))
            agg = agg.add_(h) if eps == 0.0 else agg.add_(h, alpha=1.0 + eps)
            h = torch.relu_(_mlp(agg, p))
            outs.append(h)
        nodes = torch.cat(outs, dim=1)
        return nodes, segment_sum(nodes, node_graph, num_graphs)

    def __call__(self, x: Tensor, topo: Tensor, src: Tensor, dst: Tensor, node_graph: Tensor,
                 num_graphs: int) -> dict[str, Tensor]:
        """``g_f, g_s`` [B, E] and ``n_f, n_s`` [N, E] (float32) of a batch of graphs."""
        with torch.inference_mode():
            nb, gb = self._gin(self.gin_b, x, src, dst, node_graph, num_graphs)
            nt, gt = self._gin(self.gin_t, topo, src, dst, node_graph, num_graphs)
            return {"g_f": self.feat_g(gb), "g_s": self.str_g(gt),
                    "n_f": self.feat_n(nb), "n_s": self.str_n(nt)}
