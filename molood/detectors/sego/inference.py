"""SEGO's scoring network: the eval-mode forward of a trained :class:`~.nets.SEGONet`'s two
GIN views and four projection heads, in plain torch (no DGL, no autograd), float32.

Why two forward paths: training needs DGL graphs, autograd, BatchNorm in train mode and the tree
encoder (:class:`~.nets.SEGONet`); scoring needs none of them, but needs speed and scores that
do not depend on the batch, not even in the last bit. :class:`InferenceNet` is built from the
same ``state_dict`` (:meth:`InferenceNet.from_module`, or the tensors of a model file), so the
two share their weights by construction; ``tests/detectors/test_nets.py`` checks that both give
the same embeddings. A GPU scoring path, if one comes, belongs behind this class's interface;
the bit-for-bit guarantee is a CPU statement.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Callable

import torch
from torch import Tensor

from molood.detectors.sego.batching import map_row_tiles
from molood.detectors.sego.nets import segment_sum

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.sego.nets import SEGONet

__all__ = ["InferenceNet", "NODE_TILE", "GRAPH_TILE"]

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
