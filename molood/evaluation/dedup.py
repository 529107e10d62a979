"""Duplicate removal across benchmark splits, by canonical SMILES or by graph hash.

- :func:`dedup_id_test`: drop ID-test molecules whose key also occurs in the ID training part
  (e.g. ESOL lists 5 molecules twice), and repeats inside the ID test;
- :func:`dedup_ood`: drop OOD molecules whose canonical SMILES occurs *anywhere* in the ID set,
  and repeats inside the OOD set; the OOD test is the first |ID test| molecules in file order
  **after** this filtering.

Canonical SMILES (:func:`canonical_smiles`) = RDKit ``MolToSmiles`` (canonical, isomeric) of the
sanitized molecule; salts and other fragments are kept (``[Na+].CC(=O)[O-]`` and
``CC(=O)[O-]`` are different keys). Non-molecular (TU) sets have no SMILES and use
:func:`graph_hashes` as keys instead.

numpy at import time; RDKit is imported only by :func:`canonical_smiles` (hence by
:func:`dedup_ood`).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from molood.graphs.arrays import GraphArrays

__all__ = ["canonical_smiles", "dedup_ood", "dedup_id_test", "graph_hashes"]


def canonical_smiles(smiles: Iterable[str]) -> list[str | None]:
    """RDKit canonical isomeric SMILES of each input, None where RDKit cannot parse it
    (:func:`molood.chem.parse.canonical_smiles`, imported on call so that importing this
    module needs no RDKit)."""
    from molood.chem.parse import canonical_smiles as canonical

    return canonical(smiles)


def _key(canon: str | None, raw: str) -> str:
    # unparseable molecules fall back to their raw string so they still dedupe against themselves
    return canon if canon is not None else "raw:" + raw


def dedup_ood(
    ood_smiles: Sequence[str],
    id_smiles: Sequence[str],
    n: int | None = None,
    *,
    drop_repeats: bool = True,
    id_canonical: Iterable[str | None] | None = None,
) -> np.ndarray:
    """Positions (file order) of the OOD molecules that are not in the ID set.

    Parameters
    ----------
    ood_smiles, id_smiles : sequence of str
        The whole OOD and the whole ID set (every ID molecule counts, not only ID-train).
    n : int, optional
        Stop after ``n`` kept molecules: the dedup-protocol OOD test is the first |ID test| OOD
        molecules after filtering, so large OOD sets (93k MUV) are only canonicalised until then.
    drop_repeats : bool, default True
        Also keep only the first of repeated canonical SMILES inside the OOD set.
    id_canonical : iterable, optional
        Precomputed :func:`canonical_smiles` of ``id_smiles`` (same order).

    Returns
    -------
    ndarray of int64
        Kept OOD positions, increasing.
    """
    if id_canonical is None:
        id_canonical = canonical_smiles(id_smiles)
    id_keys = {_key(c, s) for c, s in zip(id_canonical, id_smiles)}
    seen: set[str] = set()
    kept: list[int] = []
    chunk = 256
    for start in range(0, len(ood_smiles), chunk):
        block = list(ood_smiles[start:start + chunk])
        for off, (c, s) in enumerate(zip(canonical_smiles(block), block)):
            k = _key(c, s)
            if k in id_keys or (drop_repeats and k in seen):
                continue
            seen.add(k)
            kept.append(start + off)
            if n is not None and len(kept) >= n:
                return np.asarray(kept, dtype=np.int64)
    return np.asarray(kept, dtype=np.int64)


def dedup_id_test(
    id_keys: Sequence[str | None], fit: np.ndarray, id_test: np.ndarray,
) -> np.ndarray:
    """ID-test indices whose key does not occur among ``fit`` and is not a repeat within the test.

    ``id_keys`` are per-molecule keys of the whole ID set (canonical SMILES, or graph hashes for
    non-molecular sets); ``None`` never matches anything. Returns a subset of ``id_test`` in its
    order (first occurrence kept).
    """
    train_keys = {id_keys[i] for i in fit if id_keys[i] is not None}
    seen: set[str] = set()
    kept = []
    for i in id_test:
        k = id_keys[i]
        if k is not None and (k in train_keys or k in seen):
            continue
        if k is not None:
            seen.add(k)
        kept.append(int(i))
    return np.asarray(kept, dtype=np.int64)


def graph_hashes(
    graphs: GraphArrays, iterations: int | None = None, node_colors: np.ndarray | None = None,
) -> list[str]:
    """1-WL (colour refinement) hash of every graph of a :class:`~molood.graphs.arrays.GraphArrays`.

    By default node labels are ignored (start colour 0 for every node), i.e. graphs are compared
    as the constant-feature basic view of TU pairs sees them; pass ``node_colors`` (int [N],
    global node order) to start from labels instead. Equal hashes mean 1-WL-equivalent graphs,
    a slight over-approximation of isomorphism; used to deduplicate TU pairs, which have no SMILES.
    Refinement runs until the colour partition of each graph stops changing (at most
    ``iterations`` rounds if given).
    """
    no = graphs.node_offsets
    out = []
    for b, (n, s, d) in enumerate(graphs.local_edges()):
        nbrs: list[list[int]] = [[] for _ in range(n)]
        rounds = 0
        history: list = []
        for u, v in zip(s.tolist(), d.tolist()):
            nbrs[u].append(v)
        if node_colors is None:
            colors = [0] * n
        else:  # the start colours themselves are part of the hash
            start = np.asarray(node_colors[no[b]:no[b + 1]])
            colors = np.unique(start, return_inverse=True)[1].tolist()
            history.append(tuple(sorted(Counter(start.tolist()).items())))
        n_classes = len(set(colors))
        while True:
            sig = [(colors[i], tuple(sorted(colors[j] for j in nbrs[i]))) for i in range(n)]
            table = {k: idx for idx, k in enumerate(sorted(set(sig)))}
            new = [table[k] for k in sig]
            history.append(tuple(sorted(Counter(sig).items())))
            rounds += 1
            stable = len(table) == n_classes
            colors, n_classes = new, len(table)
            if stable or (iterations is not None and rounds >= iterations):
                break
        out.append(hashlib.sha1(repr((n, len(s), history)).encode()).hexdigest())
    return out
