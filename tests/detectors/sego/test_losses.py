"""SEGO losses against straightforward hand loops (the reference formulas, spec §4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from molood.detectors.sego.losses import (
    adaptive_weights,
    bank_infonce,
    global_infonce,
    local_infonce,
)

TAU = 0.2


def _cos(a, b):
    return sum(p * q for p, q in zip(a, b)) / (math.sqrt(sum(p * p for p in a)) *
                                                math.sqrt(sum(q * q for q in b)))


def _calc_loss_g(x, y):
    """Literal transcription of the reference calc_loss_g with python floats."""
    b = len(x)
    S = [[math.exp(_cos(x[i], y[j]) / TAU) for j in range(b)] for i in range(b)]
    out = []
    for i in range(b):
        col = sum(S[j][i] for j in range(b)) - S[i][i]
        row = sum(S[i][j] for j in range(b)) - S[i][i]
        out.append((-math.log(S[i][i] / col) - math.log(S[i][i] / row)) / 2)
    return out


X3 = [[1.0, 0.0, 2.0], [0.5, -1.0, 0.0], [0.0, 3.0, 1.0]]
Y3 = [[1.0, 1.0, 1.0], [2.0, -1.0, 0.5], [-1.0, 2.0, 0.0]]


def test_global_infonce_matches_hand_computation_b3():
    got = global_infonce(torch.tensor(X3, dtype=torch.float64),
                         torch.tensor(Y3, dtype=torch.float64))
    np.testing.assert_allclose(got.numpy(), _calc_loss_g(X3, Y3), rtol=1e-12)
    # a concrete number, so a wrong "hand" transcription cannot hide: graph 0
    c = [[_cos(X3[i], Y3[j]) for j in range(3)] for i in range(3)]
    e = [[math.exp(v / TAU) for v in r] for r in c]
    l0 = -math.log(e[0][0] / (e[1][0] + e[2][0]))
    l1 = -math.log(e[0][0] / (e[0][1] + e[0][2]))
    assert got[0].item() == pytest.approx((l0 + l1) / 2, rel=1e-12)


def test_global_infonce_can_be_negative_and_b1_is_zero():
    x = torch.eye(3, dtype=torch.float64)
    got = global_infonce(x, x)  # perfectly aligned, orthogonal negatives: positive ≫ negatives
    assert (got < 0).all()
    np.testing.assert_allclose(got.numpy(), -1 / TAU + math.log(2.0), rtol=1e-12)
    one = global_infonce(torch.ones(1, 4, requires_grad=True), torch.ones(1, 4))
    assert one.item() == 0.0 and one.requires_grad


def test_bank_infonce_equals_in_batch_row_of_query():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(1, 5))
    qy = rng.normal(size=(1, 5))
    bx, by = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    full = _calc_loss_g(np.vstack([q, bx]).tolist(), np.vstack([qy, by]).tolist())
    got = bank_infonce(*(torch.tensor(a) for a in (q, qy, bx, by)))
    assert got.item() == pytest.approx(full[0], rel=1e-12)


def _calc_loss_n(x, y, sizes):
    """Reference calc_loss_n by loops: dense mask, +1e-12 in the denominator; n=1 → 0 (ours)."""
    out, start = [], 0
    for n in sizes:
        idx = range(start, start + n)
        losses = []
        for i in idx:
            sii = math.exp(_cos(x[i], y[i]) / TAU)
            col = sum(math.exp(_cos(x[j], y[i]) / TAU) for j in idx) - sii
            row = sum(math.exp(_cos(x[i], y[j]) / TAU) for j in idx) - sii
            losses.append((-math.log(sii / (col + 1e-12)) - math.log(sii / (row + 1e-12))) / 2)
        out.append(sum(losses) / n if n > 1 else 0.0)
        start += n
    return out


@pytest.mark.parametrize("sizes", [[2, 3, 1], [3, 1, 4], [1, 1, 1], [5, 2, 3]])
def test_local_infonce_matches_hand_computation_b3(sizes):
    rng = np.random.default_rng(sum(sizes))
    n = sum(sizes)
    x, y = rng.normal(size=(n, 6)), rng.normal(size=(n, 6))
    gid = torch.repeat_interleave(torch.arange(3), torch.tensor(sizes))
    got = local_infonce(torch.tensor(x), torch.tensor(y), gid, torch.tensor(sizes))
    np.testing.assert_allclose(got.numpy(), _calc_loss_n(x.tolist(), y.tolist(), sizes),
                               rtol=1e-10, atol=1e-12)


def test_local_infonce_chunked_path_agrees(monkeypatch):
    import molood.detectors.sego.losses as L

    sizes = [7, 2, 9, 1, 4, 4, 3]
    rng = np.random.default_rng(1)
    n = sum(sizes)
    x, y = torch.tensor(rng.normal(size=(n, 8))), torch.tensor(rng.normal(size=(n, 8)))
    gid = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    ref = local_infonce(x, y, gid, torch.tensor(sizes))
    monkeypatch.setattr(L, "_LOCAL_BUDGET", 90)  # forces several chunks
    got = local_infonce(x, y, gid, torch.tensor(sizes))
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-12)
    np.testing.assert_allclose(got.numpy(), _calc_loss_n(x.tolist(), y.tolist(), sizes), rtol=1e-10)


def test_local_infonce_zero_vectors_and_gradients_finite():
    x = torch.zeros(5, 4, requires_grad=True)
    y = torch.randn(5, 4)
    gid = torch.tensor([0, 0, 1, 2, 2])
    out = local_infonce(x, y, gid, torch.tensor([2, 1, 2]))
    assert torch.isfinite(out).all() and out[1].item() == 0.0
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_adaptive_weights():
    w = adaptive_weights([1.0, 2.0, 4.0], 0.5)
    p = np.array([1.0, 2.0, 4.0]) ** 0.5
    np.testing.assert_allclose(w.numpy(), p / p.mean())
    assert w.mean().item() == pytest.approx(1.0)
    np.testing.assert_allclose(adaptive_weights([1.0, 2.0, 4.0], 0.0).numpy(), 1.0)
    np.testing.assert_allclose(adaptive_weights([0.0, 0.0, 0.0], 0.5).numpy(), 1.0)


def test_local_infonce_eval_matches_and_ignores_neighbours():
    from molood.detectors.sego.losses import local_infonce_eval

    g = torch.Generator().manual_seed(0)
    sizes = [1, 2, 7, 8, 9, 16, 25, 3, 40]
    nn = torch.tensor(sizes)
    x = torch.randn(sum(sizes), 24, generator=g)
    y = torch.randn(sum(sizes), 24, generator=g)
    x[3] = 0.0  # an all-zero embedding stays finite (norm floor)
    node_graph = torch.repeat_interleave(torch.arange(len(sizes)), nn)
    ref = local_infonce(x.double(), y.double(), node_graph, nn)
    got = local_infonce_eval(x, y, nn)
    assert got.dtype == torch.float64 and torch.isfinite(got).all()
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-5)
    assert got[0] == 0.0 and got[7] != 0.0
    # graph 6 (25 nodes) alone: the same bits
    lo = sum(sizes[:6])
    alone = local_infonce_eval(x[lo:lo + 25], y[lo:lo + 25], torch.tensor([25]))
    assert torch.equal(alone[0], got[6])


def test_local_infonce_eval_bounded_memory_paths(monkeypatch):
    """Size classes cut into groups keep the bits; graphs above the budget go by row blocks
    (other float32 products: equal to ~1e-7, to the float64 reference to 1e-5)."""
    import molood.detectors.sego.losses as losses

    g = torch.Generator().manual_seed(1)
    sizes = [5, 6, 7, 30, 31, 2, 120, 1, 6]
    nn = torch.tensor(sizes)
    x = torch.randn(sum(sizes), 16, generator=g)
    y = x + 0.5 * torch.randn(sum(sizes), 16, generator=g)
    whole = losses.local_infonce_eval(x, y, nn)
    monkeypatch.setattr(losses, "_EVAL_BUDGET", 128)  # p = 8: groups of 2; p >= 32: row blocks
    rows = losses.local_infonce_eval(x, y, nn)
    small = [0, 1, 2, 5, 8]
    assert torch.equal(rows[small], whole[small])
    torch.testing.assert_close(rows, whole, rtol=0, atol=1e-6)
    node_graph = torch.repeat_interleave(torch.arange(len(sizes)), nn)
    torch.testing.assert_close(rows, local_infonce(x.double(), y.double(), node_graph, nn),
                               rtol=0, atol=1e-5)
    assert rows[7] == 0.0
