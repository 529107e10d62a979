"""Exact Tanimoto nearest neighbours of Morgan fingerprints, as a sparse matrix product.

A :class:`FingerprintIndex` holds reference fingerprints as a sparse bit matrix (CSR, one row
per molecule; radius-2 Morgan, 2048 bits, :data:`~molood.chem.fingerprints.FP_BITS`). The
intersection counts of a block of queries with every reference are one sparse product
(``scipy.sparse``), whose cost grows with how often the queries' bits occur among the
references, not with the full 2048-bit width: ~16 µs a query against 578 references, ~0.6 ms
against 20,000, ~4 ms against 100,000 (2-core machine, one thread; measured beside FPSim2's
``top_k`` at 2.5 ms, usearch's exact SIMD scan at 7.8 ms and a numpy popcount scan at 9.6 ms
for 100,000 references). Results are exact, and a query's neighbours do not depend on the
other queries of its block.

RDKit + numpy + scipy; no torch.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from molood.chem.fingerprints import FP_BITS, _generator

__all__ = ["FingerprintIndex", "on_bits", "bits_matrix"]

_QUERY_BLOCK_CELLS = 4_000_000
"""Most (queries x references) similarities held at once by :meth:`FingerprintIndex.nearest`."""


def on_bits(mols: Sequence[Any]) -> list[np.ndarray]:
    """The on-bits (int32, sorted) of each molecule's Morgan fingerprint (radius 2, 2048 bits)."""
    gen = _generator()
    return [np.asarray(gen.GetFingerprint(m).GetOnBits(), dtype=np.int32) for m in mols]


def bits_matrix(bits: Sequence[np.ndarray]) -> Any:
    """CSR matrix [n, 2048] of float32 ones at each row's on-bits."""
    import scipy.sparse as sp

    indptr = np.zeros(len(bits) + 1, dtype=np.int64)
    np.cumsum([b.size for b in bits], out=indptr[1:])
    indices = (np.concatenate(bits).astype(np.int32) if bits and indptr[-1]
               else np.zeros(0, dtype=np.int32))
    data = np.ones(indices.size, dtype=np.float32)
    return sp.csr_matrix((data, indices, indptr), shape=(len(bits), FP_BITS))


class FingerprintIndex:
    """Exact Tanimoto search over reference fingerprints (see the module docstring).

    Parameters
    ----------
    bits : sequence of int arrays
        The on-bits of each reference molecule (:func:`on_bits`).
    """

    def __init__(self, bits: Sequence[np.ndarray]) -> None:
        ref = bits_matrix(bits)
        self.n = ref.shape[0]
        self._ref_t = ref.T.tocsr()  # [2048, n]: queries @ this = intersections
        self._counts = np.diff(ref.indptr).astype(np.float64)

    @classmethod
    def from_packed(cls, packed: np.ndarray, block: int = 4096) -> "FingerprintIndex":
        """An index of packed fingerprints (uint8 [n, 256], ``np.packbits`` order, as
        :func:`~molood.chem.fingerprints.packed_fingerprints` and model files store them)."""
        packed = np.asarray(packed, dtype=np.uint8)
        bits: list[np.ndarray] = []
        for s in range(0, packed.shape[0], block):
            dense = np.unpackbits(packed[s:s + block], axis=1)
            rows, cols = np.nonzero(dense)
            bits.extend(np.split(cols.astype(np.int32),
                                 np.searchsorted(rows, np.arange(1, dense.shape[0]))))
        return cls(bits)

    def __len__(self) -> int:
        return self.n

    def similarities(self, bits: Sequence[np.ndarray]) -> np.ndarray:
        """Tanimoto similarity of each query to every reference: float64 [q, n] (0 when both
        fingerprints are empty, as RDKit)."""
        q = bits_matrix(bits)
        inter = np.asarray((q @ self._ref_t).todense(), dtype=np.float64)
        union = np.diff(q.indptr)[:, None] + self._counts[None, :] - inter
        return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)

    def nearest(self, bits: Sequence[np.ndarray], k: int = 1,
                exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar references of each query: (int64 indices [q, k], float64
        similarities [q, k]), most similar first, ties broken by the lower index; -1 / NaN
        where there are fewer than ``k`` references. ``exclude`` (int [q]): a reference each
        query must not match (itself, for leave-one-out), -1 for none."""
        nq = len(bits)
        k = int(k)
        idx = np.full((nq, k), -1, dtype=np.int64)
        sims = np.full((nq, k), np.nan, dtype=np.float64)
        if nq == 0 or self.n == 0 or k < 1:
            return idx, sims
        kk = min(k, self.n)
        step = max(1, _QUERY_BLOCK_CELLS // self.n)
        for s in range(0, nq, step):
            sim = self.similarities(bits[s:s + step])
            if exclude is not None:
                ex = np.asarray(exclude[s:s + step], dtype=np.int64)
                rows = np.flatnonzero(ex >= 0)
                sim[rows, ex[rows]] = -1.0
            top_idx = _top_k(sim, kk)
            top = np.take_along_axis(sim, top_idx, axis=1)
            gone = top < 0  # excluded references
            top_idx[gone], top[gone] = -1, np.nan
            idx[s:s + step, :kk], sims[s:s + step, :kk] = top_idx, top
        return idx, sims


def _top_k(sim: np.ndarray, k: int) -> np.ndarray:
    """Column indices [q, k] of each row's ``k`` largest values, largest first, ties broken by
    the lower index (what a stable sort gives, without sorting whole rows)."""
    if k == 1:
        return np.argmax(sim, axis=1)[:, None].astype(np.int64)  # first maximum
    if k >= sim.shape[1]:
        return np.argsort(-sim, axis=1, kind="stable").astype(np.int64)
    kth = -np.partition(-sim, k - 1, axis=1)[:, k - 1:k]  # the k-th largest value per row
    out = np.empty((sim.shape[0], k), dtype=np.int64)
    for r in range(sim.shape[0]):
        cand = np.flatnonzero(sim[r] >= kth[r, 0])  # ascending index
        order = np.argsort(-sim[r, cand], kind="stable")[:k]
        out[r] = cand[order]
    return out
