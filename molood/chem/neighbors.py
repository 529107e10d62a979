"""Tanimoto nearest neighbours of Morgan fingerprints: exact (a sparse matrix product) for
reference sets up to :data:`EXACT_MAX_REFERENCES`, a HNSW graph (usearch) above.

A :class:`FingerprintIndex` holds reference fingerprints as a sparse bit matrix (CSR, one row
per molecule; radius-2 Morgan, 2048 bits, :data:`~molood.chem.fingerprints.FP_BITS`). The
intersection counts of a block of queries with every reference are one product of that
sparse matrix with the queries' dense bits (``scipy.sparse``), whose cost grows with the
references' on-bits (~45 a molecule), not with the full 2048-bit width: ~6 µs a query against
the bundled model's 642 references, ~0.56 ms against 50,000 (2-core machine, one thread, blocks
of 250 queries). The former sparse x sparse product took ~16 µs, ~0.6 ms against 20,000 and
~4 ms against 100,000, measured then beside FPSim2's ``top_k`` at 2.5 ms, usearch's exact SIMD
scan at 7.8 ms and a numpy popcount scan at 9.6 ms for 100,000 references. Results are exact,
and a query's neighbours do not depend on the other queries of its block.

Above that, exact search costs too much for screening (36–45 ms a query against MOSES' 1.58M
molecules): :class:`HNSWFingerprintIndex` searches a hierarchical navigable small-world graph
(usearch, Tanimoto on packed bits) in ~0.10 ms a query there, finding 89% of the exact 5
nearest neighbours (mean error of their mean similarity 0.011; ``benchmarks/train_scale.py``
prints these for a model it trains).
It is built on one thread, so the same fingerprints give the same graph (and the same model
file) on any machine; searches are per query, so a query's neighbours do not depend on the
other queries either.

RDKit + numpy + scipy; no torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from molood.chem.fingerprints import FP_BITS, FP_BYTES, tanimoto

__all__ = ["FingerprintIndex", "HNSWFingerprintIndex", "make_index", "bits_matrix",
           "EXACT_MAX_REFERENCES"]

EXACT_MAX_REFERENCES = 50_000
"""Largest reference set :func:`make_index` searches exactly ("auto"); every MoleculeNet set of
the benchmark is below it."""

_QUERY_BLOCK_CELLS = 4_000_000
"""Most (queries x references) similarities held at once by :meth:`FingerprintIndex.nearest`,
unless that leaves fewer than :data:`_MIN_QUERIES` queries a block."""

_MIN_QUERIES = 8
"""Fewest queries a block of :meth:`FingerprintIndex.nearest`: the dense product of
:meth:`FingerprintIndex.similarities` needs a few queries to pay off (1.58M references: 74 ms a
query in blocks of 2, 20 ms in blocks of 8, against 31 ms for a sparse x sparse product)."""

_DENSE_QUERIES = 1024
"""Queries whose bits :meth:`FingerprintIndex.similarities` unpacks at once (8 MiB)."""


def bits_matrix(packed: np.ndarray) -> Any:
    """CSR matrix [n, 2048] of float32 ones at the on-bits of packed fingerprints uint8
    [n, 256] (``np.packbits`` order, :func:`~molood.chem.fingerprints.packed_fingerprints`);
    each row's bits ascending."""
    import scipy.sparse as sp

    packed = np.asarray(packed, dtype=np.uint8).reshape(-1, FP_BYTES)
    n = packed.shape[0]
    rows, byte = np.nonzero(packed)  # only the non-zero bytes are expanded (~40 of 256)
    hit, bit = np.nonzero(_BYTE_BITS[packed[rows, byte]])
    indices = (byte[hit] * 8 + bit).astype(np.int32)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[hit], minlength=n), out=indptr[1:])
    data = np.ones(indices.size, dtype=np.float32)
    return sp.csr_matrix((data, indices, indptr), shape=(n, FP_BITS))


_BYTE_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(bool)
"""[256, 8]: the bits of each byte value, high bit first (``np.packbits`` order)."""


def make_index(packed: np.ndarray, kind: str = "auto"
               ) -> "FingerprintIndex | HNSWFingerprintIndex":
    """The neighbour index of packed fingerprints uint8 [n, 256]: ``kind`` "exact", "hnsw",
    or "auto" (exact up to :data:`EXACT_MAX_REFERENCES` references, HNSW above)."""
    if kind not in ("auto", "exact", "hnsw"):
        raise ValueError(f"neighbour index must be 'auto', 'exact' or 'hnsw', got {kind!r}")
    if kind == "hnsw" or (kind == "auto" and len(packed) > EXACT_MAX_REFERENCES):
        return HNSWFingerprintIndex(packed)
    return FingerprintIndex(packed)


class FingerprintIndex:
    """Exact Tanimoto search over reference fingerprints (see the module docstring).

    Parameters
    ----------
    packed : ndarray uint8 [n, 256]
        The reference fingerprints, packed (``np.packbits`` order, as
        :func:`~molood.chem.fingerprints.packed_fingerprints` and model files store them).
    """

    def __init__(self, packed: np.ndarray) -> None:
        self._ref = bits_matrix(packed)  # [n, 2048]: this @ queries' bits = intersections
        self.n = self._ref.shape[0]
        self._counts = np.diff(self._ref.indptr).astype(np.float64)

    def __len__(self) -> int:
        return self.n

    def similarities(self, packed: np.ndarray) -> np.ndarray:
        """Tanimoto similarity of each query (packed fingerprints uint8 [q, 256]) to every
        reference: float64 [q, n] (0 when both fingerprints are empty, as RDKit).

        Intersections are the sparse references times the queries' dense bits (float32 0/1,
        exact counts), :data:`_DENSE_QUERIES` queries at a time: half the time of a sparse
        times sparse product, whose result is dense anyway."""
        packed = np.asarray(packed, dtype=np.uint8).reshape(-1, FP_BYTES)
        inter = np.empty((len(packed), self.n), dtype=np.float64)
        for s in range(0, len(packed), _DENSE_QUERIES):
            q = packed[s:s + _DENSE_QUERIES]
            # [2048, q] C-ordered, as scipy's product wants it (else it copies it)
            bits = np.unpackbits(np.ascontiguousarray(q.T), axis=0).astype(np.float32)
            inter[s:s + len(q)] = (self._ref @ bits).T
        counts = np.bitwise_count(packed).sum(axis=1, dtype=np.int64)
        union = counts[:, None] + self._counts[None, :] - inter
        return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)

    def nearest(self, packed: np.ndarray, k: int = 1,
                exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar references of each query (packed fingerprints uint8
        [q, 256]): (int64 indices [q, k], float64
        similarities [q, k]), most similar first, ties broken by the lower index; -1 / NaN
        where there are fewer than ``k`` references. ``exclude`` (int [q]): a reference each
        query must not match (itself, for leave-one-out), -1 for none."""
        packed = np.asarray(packed, dtype=np.uint8).reshape(-1, FP_BYTES)
        nq = len(packed)
        k = int(k)
        idx = np.full((nq, k), -1, dtype=np.int64)
        sims = np.full((nq, k), np.nan, dtype=np.float64)
        if nq == 0 or self.n == 0 or k < 1:
            return idx, sims
        kk = min(k, self.n)
        step = max(_MIN_QUERIES, _QUERY_BLOCK_CELLS // self.n)
        for s in range(0, nq, step):
            sim = self.similarities(packed[s:s + step])
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


class HNSWFingerprintIndex:
    """Approximate Tanimoto search over packed fingerprints (uint8 [n, 256]) in a HNSW graph
    (usearch; see the module docstring), with :class:`FingerprintIndex`'s ``nearest``.

    Graph settings: ``connectivity`` 16, ``expansion_add`` 128, ``expansion_search`` 32 (the
    first HNSW models searched with 64; model files record theirs). On MOSES' 1.58M molecules,
    against exact search (500 MOSES test molecules; ``benchmarks/train_scale.py --no-train
    --expansions``), 32 finds 88.9 % of the exact 5 nearest in 0.10 ms a query, 64 finds
    91.9 % in 0.18 ms: at 64 the search was about half of a screen's time.
    """

    CONNECTIVITY, EXPANSION_ADD, EXPANSION_SEARCH = 16, 128, 32

    def __init__(self, packed: np.ndarray | None = None, *, _index: Any = None) -> None:
        if _index is None:
            from usearch.index import Index, MetricKind, ScalarKind

            packed = np.ascontiguousarray(packed, dtype=np.uint8)
            _index = Index(ndim=FP_BITS, metric=MetricKind.Tanimoto, dtype=ScalarKind.B1,
                           connectivity=self.CONNECTIVITY, expansion_add=self.EXPANSION_ADD,
                           expansion_search=self.EXPANSION_SEARCH)
            if len(packed):
                _index.add(np.arange(len(packed), dtype=np.uint64), packed, threads=1)
        self._index = _index
        self._buffer: np.ndarray | None = None  # what a viewed index reads (from_bytes)
        self.n = len(_index)

    def to_bytes(self) -> np.ndarray:
        """The graph and its vectors as uint8 [m] (usearch's own format: data, not code)."""
        return np.frombuffer(self._index.save(), dtype=np.uint8)

    @property
    def expansion_search(self) -> int:
        """How many candidates a search keeps (HNSW's ``ef``): more finds more of the true
        neighbours, slower. Not part of the saved graph; model files record it."""
        return int(self._index.expansion_search)

    @classmethod
    def from_bytes(cls, data: np.ndarray, expansion_search: int | None = None
                   ) -> "HNSWFingerprintIndex":
        """The index :meth:`to_bytes` saved, searched in place (a view of ``data``, which the
        index keeps alive: no copy of a graph of hundreds of MB), with ``expansion_search``
        (default :attr:`EXPANSION_SEARCH`)."""
        from usearch.index import Index

        buf = np.ascontiguousarray(data, dtype=np.uint8)
        index = Index.restore(memoryview(buf), view=True)
        if index is None:
            raise ValueError("not a usearch index")
        index.expansion_search = int(expansion_search or cls.EXPANSION_SEARCH)
        out = cls(_index=index)
        out._buffer = buf
        return out

    def __len__(self) -> int:
        return self.n

    def __reduce__(self) -> tuple[Any, tuple[np.ndarray, int]]:
        """Pickles (and deep-copies) as its saved bytes and search setting: usearch's index
        object cannot be pickled, so neither could a fitted or loaded HNSW model."""
        return HNSWFingerprintIndex.from_bytes, (np.array(self.to_bytes()),
                                                 self.expansion_search)

    def packed(self) -> np.ndarray:
        """The indexed fingerprints, uint8 [n, 256], in index order (a copy)."""
        if self.n == 0:
            return np.zeros((0, FP_BYTES), dtype=np.uint8)
        out = self._index.get(np.arange(self.n, dtype=np.uint64), dtype=np.uint8)
        return np.asarray(out, dtype=np.uint8).reshape(self.n, FP_BYTES)

    def nearest(self, packed: np.ndarray, k: int = 1,
                exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`FingerprintIndex.nearest` (approximate: a true neighbour may be missed)."""
        q = np.ascontiguousarray(packed, dtype=np.uint8).reshape(-1, FP_BYTES)
        nq, k = len(q), int(k)
        idx = np.full((nq, k), -1, dtype=np.int64)
        sims = np.full((nq, k), np.nan, dtype=np.float64)
        if nq == 0 or self.n == 0 or k < 1:
            return idx, sims
        extra = 0 if exclude is None else 1
        found = self._index.search(q, min(k + extra, self.n), threads=1)
        keys = np.asarray(found.keys, dtype=np.int64).reshape(nq, -1)
        counts = (np.asarray(found.counts, dtype=np.int64).reshape(nq)
                  if hasattr(found, "counts") else np.array([keys.shape[1]]))  # one query
        ok = np.arange(keys.shape[1])[None, :] < counts[:, None]
        if exclude is not None:
            ok &= keys != np.asarray(exclude, dtype=np.int64)[:, None]
        # exact float64 Tanimoto of what was found (usearch reports float32 distances)
        ref = np.asarray(self._index.get(np.where(ok, keys, 0).ravel().astype(np.uint64),
                                         dtype=np.uint8), dtype=np.uint8)
        sim = tanimoto(q[:, None, :], ref.reshape(nq, keys.shape[1], FP_BYTES))
        sim[~ok] = -1.0
        order = np.lexsort((keys, -sim), axis=1)[:, :k]  # most similar first, ties: lower index
        top_keys = np.take_along_axis(keys, order, axis=1)
        top_sims = np.take_along_axis(sim, order, axis=1)
        got = top_sims >= 0
        kk = top_keys.shape[1]
        idx[:, :kk] = np.where(got, top_keys, -1)
        sims[:, :kk] = np.where(got, top_sims, np.nan)
        return idx, sims


def _top_k(sim: np.ndarray, k: int) -> np.ndarray:
    """Column indices [q, k] of each row's ``k`` largest values, largest first, ties broken by
    the lower index (what a stable sort gives, without sorting whole rows)."""
    if k == 1:
        return np.argmax(sim, axis=1)[:, None].astype(np.int64)  # first maximum
    if k >= sim.shape[1]:
        return np.argsort(-sim, axis=1, kind="stable").astype(np.int64)
    kth = -np.partition(-sim, k - 1, axis=1)[:, k - 1:k]  # the k-th largest value per row
    rows, cols = np.nonzero(sim >= kth)  # >= k candidates a row (more on ties), row-major
    order = np.lexsort((cols, -sim[rows, cols], rows))  # by row, value down, index up
    rows, cols = rows[order], cols[order]
    starts = np.searchsorted(rows, np.arange(sim.shape[0]))
    return cols[starts[:, None] + np.arange(k)[None, :]].astype(np.int64)
