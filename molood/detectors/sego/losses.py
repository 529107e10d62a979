"""SEGO's contrastive losses, as the authors' code computes them (``sego_method.md`` §4).

All losses return **per-graph** vectors [B]; callers take means. Conventions shared by all:

- similarity ``s_ij = cos(x_i, y_j) / τ`` with τ = 0.2; the cosine divides by
  ``max(‖x‖, 1e-8)`` (the reference has no ε and returns NaN for an all-zero embedding);
- the positive pair is **excluded** from the denominator and the negatives come from the
  *other view only*, so ``ℓ = −log(exp(s_ii) / Σ_{j≠i} exp(s_ij))`` can be negative;
- the loss of an item is the mean of its row (x_i against all y_j) and column (y_i against
  all x_j) terms.

Computed in log space (``logsumexp``), which is the same number without overflow.

Guards (documented deviations from the reference):
- ``global_infonce`` with B = 1 has no negatives (the reference gives +inf); it returns 0.
- ``local_infonce`` gives 0 for graphs with n ≤ 1 node (the reference gives
  ``−log(S_ii / 1e−12) ≈ −32``, an extreme "very in-distribution" value).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from molood.detectors.sego.batching import map_row_tiles

__all__ = [
    "TAU",
    "cosine_logits",
    "global_infonce",
    "bank_infonce",
    "local_infonce",
    "local_infonce_eval",
    "local_infonce_nodes",
    "adaptive_weights",
]

TAU = 0.2
"""Temperature of every InfoNCE term (hard-coded in the reference)."""

_NORM_EPS = 1e-8
_DEN_EPS = 1e-12  # the reference's ε in the node-loss denominator
_LOCAL_BUDGET = 1 << 23  # max floats in one padded [b, n_max, n_max] similarity block


def _unit(x: Tensor) -> Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(_NORM_EPS)


_ROW_TILE = 64


def _rowwise_matmul(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b`` [n, m] in which row i depends on row i of ``a`` alone, bit for bit.

    MKL's float64 gemm rounds a row differently depending on where it sits in ``a`` when the
    row count is not a multiple of 4 (~1e-16 relative), which made a score's last bits depend
    on how many molecules were scored together. Products are therefore always taken in tiles of
    exactly :data:`_ROW_TILE` rows (the last one zero-padded), in which a row's result does not
    depend on its position or on the thread count.
    """
    return map_row_tiles(lambda t: t @ b, a, _ROW_TILE)


def cosine_logits(x: Tensor, y: Tensor, tau: float = TAU) -> Tensor:
    """[B, B'] matrix of ``cos(x_i, y_j) / τ``."""
    return _unit(x) @ _unit(y).T / tau


def global_infonce(x: Tensor, y: Tensor, tau: float = TAU) -> Tensor:
    """The reference ``calc_loss_g`` / ``calc_loss_tree`` (sym): in-batch InfoNCE, per graph [B].

    ``L_i = ½[−log(S_ii / Σ_{j≠i} S_ji) − log(S_ii / Σ_{j≠i} S_ij)]``, ``S = exp(cos/τ)``.
    """
    b = x.shape[0]
    if b < 2:
        return (x.sum(dim=1) + y.sum(dim=1)) * 0.0  # no negatives; keeps the autograd graph
    s = cosine_logits(x, y, tau)
    diag = s.diagonal()
    off = s.masked_fill(torch.eye(b, dtype=torch.bool, device=s.device), float("-inf"))
    row = torch.logsumexp(off, dim=1)  # x_i against every other y_j
    col = torch.logsumexp(off, dim=0)  # y_i against every other x_j
    return (row + col) / 2 - diag


def bank_infonce(x: Tensor, y: Tensor, bank_x: Tensor, bank_y: Tensor,
                 tau: float = TAU) -> Tensor:
    """``calc_loss_g`` for queries scored against a fixed negative bank, per query [B].

    Query i's positive pair is (x_i, y_i); its negatives are ``bank_y`` in the row direction and
    ``bank_x`` in the column direction, exactly the terms it would meet as one member of an
    in-batch ``calc_loss_g`` over [query, bank]. Each query only ever meets the bank, so the
    value does not depend on the other queries, their order or the batch size.
    """
    if bank_x.shape[0] == 0:
        return x.new_zeros(x.shape[0])
    xu, yu = _unit(x), _unit(y)
    diag = (xu * yu).sum(dim=1) / tau
    row = torch.logsumexp(_rowwise_matmul(xu, _unit(bank_y).T) / tau, dim=1)
    col = torch.logsumexp(_rowwise_matmul(yu, _unit(bank_x).T) / tau, dim=1)
    return (row + col) / 2 - diag


def _local_padded(xu: Tensor, yu: Tensor, gid: Tensor, pos: Tensor, nn: Tensor,
                  tau: float) -> Tensor:
    """Node InfoNCE on b graphs padded to [b, n_max, E]; returns per-graph mean loss [b]."""
    b, n_max, e = nn.shape[0], int(nn.max()), xu.shape[1]
    xp = xu.new_zeros((b, n_max, e)).index_put((gid, pos), xu)
    yp = yu.new_zeros((b, n_max, e)).index_put((gid, pos), yu)
    s = torch.bmm(xp, yp.transpose(1, 2)) / tau  # [b, n_max, n_max], s[g, i, j] = cos(x_i, y_j)/τ
    ar = torch.arange(n_max, device=xu.device)
    valid = ar[None, :] < nn[:, None]  # [b, n_max]
    pair = valid[:, :, None] & valid[:, None, :] & (ar[:, None] != ar[None, :])
    ex = torch.where(pair, s.exp(), torch.zeros((), dtype=s.dtype, device=s.device))
    row = torch.log(ex.sum(dim=2) + _DEN_EPS)  # x_i against the other y_j of its graph
    col = torch.log(ex.sum(dim=1) + _DEN_EPS)  # y_i against the other x_j of its graph
    node = (row + col) / 2 - s.diagonal(dim1=1, dim2=2)
    node = torch.where(valid, node, torch.zeros((), dtype=node.dtype, device=node.device))
    per_graph = node.sum(dim=1) / nn.clamp_min(1).to(node.dtype)
    return torch.where(nn > 1, per_graph, torch.zeros((), dtype=node.dtype, device=node.device))


def local_infonce(x: Tensor, y: Tensor, node_graph: Tensor, num_nodes: Tensor,
                  tau: float = TAU) -> Tensor:
    """The reference ``calc_loss_n``: node InfoNCE inside each graph, mean over its nodes [B].

    Node i's positive is (x_i, y_i); negatives are the other nodes *of the same graph* in the
    other view. Memory is O(Σ n_i²)-ish: graphs are padded to ``[b, n_max, E]`` and compared
    with one ``bmm`` — never a dense N×N matrix; batches with very uneven sizes, or whose padded
    block would exceed ``2**23`` floats, are split into size-sorted chunks. Graphs with n ≤ 1
    get 0.

    Parameters
    ----------
    x, y : Tensor [N, E]
        Node embeddings of the two views (nodes grouped by graph, in graph order).
    node_graph : LongTensor [N]
        Graph index of every node (non-decreasing).
    num_nodes : LongTensor [B]
        Nodes per graph.
    """
    num_nodes = num_nodes.to(torch.long)
    bsz = num_nodes.shape[0]
    if bsz == 0:
        return x.new_zeros(0)
    xu, yu = _unit(x), _unit(y)
    offsets = torch.cumsum(num_nodes, 0) - num_nodes
    pos = torch.arange(x.shape[0], device=x.device) - offsets[node_graph]
    n_max = int(num_nodes.max())
    if n_max <= 1:
        return x.new_zeros(bsz) + 0.0 * (x.sum() + y.sum())
    n_min = int(num_nodes.min())
    if bsz * n_max * n_max <= _LOCAL_BUDGET and (n_max <= 2 * n_min + 8 or bsz <= 8):
        return _local_padded(xu, yu, node_graph, pos, num_nodes, tau)
    # Skewed or large batch: pad graphs of similar size together (sorted by size, a new chunk
    # when the padded block would exceed the budget or the size grows by > 1.5x), so the work
    # stays close to sum(n_i^2) instead of B * n_max^2.
    order = torch.argsort(num_nodes, stable=True)
    sizes = num_nodes[order].tolist()
    out = x.new_zeros(bsz)
    start = 0
    while start < bsz:
        stop, first = start + 1, sizes[start]
        while (stop < bsz and (stop + 1 - start) * sizes[stop] ** 2 <= _LOCAL_BUDGET
               and sizes[stop] <= 1.5 * first + 4):
            stop += 1
        graphs = order[start:stop]
        local_id = torch.full((bsz,), -1, dtype=torch.long, device=x.device)
        local_id[graphs] = torch.arange(graphs.shape[0], device=x.device)
        sel = local_id[node_graph] >= 0
        out = out.index_put((graphs,), _local_padded(xu[sel], yu[sel], local_id[node_graph[sel]],
                                                     pos[sel], num_nodes[graphs], tau))
        start = stop
    return out


_EVAL_PAD = 8  # local_infonce_eval pads a graph of n nodes to the next multiple of this
_EVAL_BUDGET = 1 << 21
"""Most similarity entries local_infonce_eval holds at once (b graphs × p² of a size class, or
rows × p of one large graph): ~21 bytes each with the float32 products, the float64 copy and
the mask, so ~45 MB. Ordinary batches never reach it (512 graphs of ≤ 64 atoms are 2²¹)."""


def local_infonce_eval(x: Tensor, y: Tensor, num_nodes: Tensor, tau: float = TAU) -> Tensor:
    """:func:`local_infonce` for scoring: the same per-graph loss [B] (float64) from float32 node
    embeddings, without autograd, and independent of the other graphs of the batch.

    The within-graph dot products ``x_i · y_j`` are one float32 ``bmm`` per size class: a graph
    of n nodes takes ``8·⌈n/8⌉`` rows whatever the batch holds, so its products have the same
    shape, hence the same bits, in any batch (a padding that followed the largest graph of the
    batch would change them in the last bits). The extra rows repeat the graph's first node
    (one gather, no zero-filled copy) and are masked out exactly. Norms, cosines, ``exp``/``log``
    and means are float64.

    Memory: a size class is cut into groups of at most :data:`_EVAL_BUDGET` / p² graphs (the
    same bits: a graph's product does not depend on the others). A graph with p² above the
    budget (p > 1448, above :data:`molood.chem.features.DEFAULT_MAX_ATOMS`) is done in row
    blocks instead (:func:`_local_eval_rows`; other summation order, so other last bits), so
    memory stays ~45 MB at any size; time stays O(n²·E).

    Parameters
    ----------
    x, y : Tensor [N, E]
        Node embeddings of the two views (nodes grouped by graph, in graph order), float32.
    num_nodes : LongTensor [B]
        Nodes per graph.
    """
    counts = num_nodes.to(torch.long).numpy()
    out = torch.zeros(counts.shape[0], dtype=torch.float64)
    if counts.shape[0] == 0 or int(counts.max()) <= 1:
        return out
    with torch.inference_mode():
        nx = torch.linalg.vector_norm(x, dim=1, dtype=torch.float64).clamp_min_(_NORM_EPS)
        ny = torch.linalg.vector_norm(y, dim=1, dtype=torch.float64).clamp_min_(_NORM_EPS)
        offsets = np.cumsum(counts) - counts
        padded = (counts + (_EVAL_PAD - 1)) // _EVAL_PAD * _EVAL_PAD
        scored = counts > 1
        for p in np.unique(padded[scored]).tolist():
            graphs = np.flatnonzero((padded == p) & scored)
            if p * p > _EVAL_BUDGET:
                for g in graphs.tolist():
                    lo, n = int(offsets[g]), int(counts[g])
                    out[g] = _local_eval_rows(x[lo:lo + n], y[lo:lo + n], nx[lo:lo + n],
                                              ny[lo:lo + n], tau)
                continue
            step = _EVAL_BUDGET // (p * p)
            for s in range(0, graphs.shape[0], step):
                g = graphs[s:s + step]
                out[torch.from_numpy(g)] = _local_eval_class(x, y, nx, ny, offsets[g],
                                                             counts[g], p, tau)
    return out


def _local_eval_class(x: Tensor, y: Tensor, nx: Tensor, ny: Tensor, first_np: np.ndarray,
                      nn_: np.ndarray, p: int, tau: float) -> Tensor:
    """Per-graph local loss [b] of b graphs of one size class ``p`` (nodes ``first_np[g]`` ..
    ``+ nn_[g]``), padded to p rows; ``nx``/``ny`` are the float64 row norms [N]."""
    per_node = _local_eval_class_nodes(x, y, nx, ny, first_np, nn_, p, tau)
    return per_node.sum(dim=1) / torch.from_numpy(nn_).to(torch.float64)


def _local_eval_class_nodes(x: Tensor, y: Tensor, nx: Tensor, ny: Tensor, first_np: np.ndarray,
                            nn_: np.ndarray, p: int, tau: float) -> Tensor:
    """Per-node terms [b, p] (0 in the padding) behind :func:`_local_eval_class`."""
    b, e = nn_.shape[0], x.shape[1]
    ar = np.arange(p)
    valid_np = ar[None, :] < nn_[:, None]  # [b, p]
    first = first_np[:, None]
    rows = torch.from_numpy(np.where(valid_np, first + ar[None, :], first).reshape(-1))
    valid = torch.from_numpy(valid_np)
    s = torch.bmm(x.index_select(0, rows).view(b, p, e),
                  y.index_select(0, rows).view(b, p, e).transpose(1, 2)).double()
    s.div_(nx.index_select(0, rows).view(b, p, 1))
    s.div_(ny.index_select(0, rows).view(b, 1, p)).div_(tau)  # cos(x_i, y_j) / τ
    diag = s.diagonal(dim1=1, dim2=2).clone()  # [b, p]
    pair = valid[:, :, None] & valid[:, None, :]
    pair.diagonal(dim1=1, dim2=2).fill_(False)
    ex = s.exp_().mul_(pair)
    row = ex.sum(dim=2).add_(_DEN_EPS).log_()  # x_i against the other y_j of its graph
    col = ex.sum(dim=1).add_(_DEN_EPS).log_()  # y_i against the other x_j of its graph
    return (row + col).div_(2).sub_(diag).mul_(valid)


def _local_eval_rows(x: Tensor, y: Tensor, nx: Tensor, ny: Tensor, tau: float) -> Tensor:
    """Local loss (0-d float64) of one graph of n nodes (``x``, ``y`` [n, E] float32, norms
    ``nx``, ``ny`` [n] float64) in blocks of ``_EVAL_BUDGET // n`` rows of the n × n
    similarity: row sums per block, column sums accumulated over blocks."""
    return _local_eval_rows_nodes(x, y, nx, ny, tau).sum() / x.shape[0]


def _local_eval_rows_nodes(x: Tensor, y: Tensor, nx: Tensor, ny: Tensor, tau: float) -> Tensor:
    """Per-node terms [n] behind :func:`_local_eval_rows`."""
    n = x.shape[0]
    step = max(1, _EVAL_BUDGET // n)
    col = torch.zeros(n, dtype=torch.float64)
    per_node = torch.zeros(n, dtype=torch.float64)
    yt = y.t()
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        s = (x[lo:hi] @ yt).double()
        s.div_(nx[lo:hi, None]).div_(ny[None, :]).div_(tau)  # cos(x_i, y_j) / τ
        i = torch.arange(hi - lo)
        diag = s[i, i + lo].clone()
        ex = s.exp_()
        ex[i, i + lo] = 0.0
        per_node[lo:hi] = ex.sum(dim=1).add_(_DEN_EPS).log_().div_(2).sub_(diag)
        col.add_(ex.sum(dim=0))
    return per_node.add_(col.add_(_DEN_EPS).log_().div_(2))


def local_infonce_nodes(x: Tensor, y: Tensor, num_nodes: Tensor, tau: float = TAU) -> Tensor:
    """The per-node terms ``ℓ_i`` [N] (float64) of :func:`local_infonce_eval`: a graph's local
    loss is the mean of its nodes' terms, ``L_n = (1/n) Σ_i ℓ_i`` with
    ``ℓ_i = ½[log Σ_{j≠i} e^{s_ij} + log Σ_{j≠i} e^{s_ji}] − s_ii``, ``s_ij = cos(x_i, y_j)/τ``
    (large = node i's two views agree less with each other than with the graph's other nodes).
    Each graph is computed alone, with the same arithmetic as scoring; graphs of ≤ 1 node get 0.
    For explanations (a few molecules), not for screening speed."""
    counts = num_nodes.to(torch.long).numpy()
    out = torch.zeros(int(counts.sum()), dtype=torch.float64)
    with torch.inference_mode():
        nx = torch.linalg.vector_norm(x, dim=1, dtype=torch.float64).clamp_min_(_NORM_EPS)
        ny = torch.linalg.vector_norm(y, dim=1, dtype=torch.float64).clamp_min_(_NORM_EPS)
        offsets = np.cumsum(counts) - counts
        for g in np.flatnonzero(counts > 1).tolist():
            lo, n = int(offsets[g]), int(counts[g])
            p = (n + _EVAL_PAD - 1) // _EVAL_PAD * _EVAL_PAD
            if p * p > _EVAL_BUDGET:
                out[lo:lo + n] = _local_eval_rows_nodes(x[lo:lo + n], y[lo:lo + n],
                                                        nx[lo:lo + n], ny[lo:lo + n], tau)
            else:
                out[lo:lo + n] = _local_eval_class_nodes(x, y, nx, ny, offsets[g:g + 1],
                                                         counts[g:g + 1], p, tau)[0, :n]
    return out


def adaptive_weights(sigmas: Tensor | list[float], alpha: float) -> Tensor:
    """``w_x = σ_x^α / mean_y(σ_y^α)`` (the code's adaptive weighting; weights average to 1).

    ``sigmas`` are the population stds of the previous epoch's per-graph losses, one per loss
    term. All-zero σ (or α = 0) gives all ones.
    """
    s = torch.as_tensor(sigmas, dtype=torch.float64)
    p = s.clamp_min(0) ** alpha
    m = p.mean()
    if not torch.isfinite(m) or m <= 0:
        return torch.ones_like(s)
    return p / m
