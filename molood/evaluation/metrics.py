"""Leakage-free OOD-detection evaluation: splits, duplicate removal, metrics, a k-NN baseline.

The SEGO paper's protocol (spec §6) splits the ID set 90/10 and takes as OOD test the first
|ID test| graphs of the OOD set in file order. Its code draws the split **twice** per trial, so
≈90% of the ID-test graphs were trained on. Here there is exactly one split per seed
(:func:`paper_split`), plus optional duplicate removal by canonical SMILES:

- :func:`dedup_id_test`: drop ID-test molecules whose canonical SMILES also occurs in the ID
  training part (e.g. ESOL lists 5 molecules twice), and repeats inside the ID test;
- :func:`dedup_ood`: drop OOD molecules whose canonical SMILES occurs *anywhere* in the ID set,
  and repeats inside the OOD set; the OOD test is the first |ID test| molecules in file order
  **after** this filtering.

Canonical SMILES = RDKit ``MolToSmiles`` (canonical, isomeric) of the sanitized molecule; salts
and other fragments are kept (``[Na+].CC(=O)[O-]`` and ``CC(=O)[O-]`` are different keys).

Metrics treat OOD as the positive class and expect "higher score = more OOD".
This module imports numpy only at import time (RDKit lazily; no torch, no scikit-learn).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

__all__ = [
    "Split", "paper_split", "leaky_split", "canonical_smiles", "dedup_ood", "dedup_id_test",
    "auroc", "aupr", "fpr_at_tpr", "fpr95", "knn_tanimoto_scores", "graph_hashes",
]


# --------------------------------------------------------------------------------------- splits
@dataclass(frozen=True)
class Split:
    """One seeded split of an ID set of size ``n_id`` (sorted, pairwise disjoint index arrays).

    Attributes
    ----------
    train : ndarray of int64
        ID training graphs proper.
    cal : ndarray of int64
        Held-out ID graphs for calibration and model selection (part of the 90% ID-train).
    id_test : ndarray of int64
        ID test graphs (never seen in training).
    """

    train: np.ndarray
    cal: np.ndarray
    id_test: np.ndarray

    @property
    def fit(self) -> np.ndarray:
        """``train ∪ cal`` (sorted): everything a method may look at before testing."""
        return np.sort(np.concatenate([self.train, self.cal]))


def paper_split(n_id: int, seed: int, train_frac: float = 0.9, cal_frac: float = 0.1) -> Split:
    """Split ``range(n_id)`` once: ⌊train_frac·n⌋ ID-train (of which ⌊cal_frac·n_train⌋ are
    calibration), the rest ID test; sizes as in the paper's ``get_ood_dataset``.

    One permutation from ``np.random.default_rng(seed)`` decides everything, so the split is a
    pure function of ``(n_id, seed, train_frac, cal_frac)``.
    """
    if n_id < 2:
        raise ValueError(f"need at least 2 ID graphs to split, got {n_id}")
    if not (0 < train_frac < 1 and 0 <= cal_frac < 1):
        raise ValueError("train_frac must be in (0, 1) and cal_frac in [0, 1)")
    perm = np.random.default_rng(seed).permutation(n_id).astype(np.int64)
    n_train = int(n_id * train_frac)
    n_cal = int(n_train * cal_frac)
    fit, test = perm[:n_train], perm[n_train:]
    return Split(train=np.sort(fit[n_cal:]), cal=np.sort(fit[:n_cal]), id_test=np.sort(test))


def leaky_split(n_id: int, seed: int, train_frac: float = 0.9, cal_frac: float = 0.1) -> Split:
    """The authors' double draw (spec §6), for ablations only: NOT a valid evaluation split.

    ``train``/``cal`` equal :func:`paper_split`'s for the same seed (first permutation of the
    seeded generator); ``id_test`` is the test part of a *second* permutation drawn from the
    same generator, as SEGO's ``treecl.py`` does by calling ``get_ood_dataset`` twice. About
    ``train_frac`` of these ID-test entries are therefore training entries.
    """
    base = paper_split(n_id, seed, train_frac, cal_frac)
    rng = np.random.default_rng(seed)
    rng.permutation(n_id)  # the first draw, already used by ``base``
    second = rng.permutation(n_id).astype(np.int64)
    return Split(train=base.train, cal=base.cal, id_test=np.sort(second[int(n_id * train_frac):]))


# ----------------------------------------------------------------------------------- duplicates
def canonical_smiles(smiles: Iterable[str]) -> list[str | None]:
    """RDKit canonical isomeric SMILES of each input; ``None`` where RDKit cannot parse it."""
    from rdkit import Chem

    from molood.chem.parse import quiet_rdkit

    out: list[str | None] = []
    with quiet_rdkit():
        for s in smiles:
            mol = Chem.MolFromSmiles(s) if isinstance(s, str) else None
            out.append(Chem.MolToSmiles(mol) if mol is not None else None)
    return out


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
    graphs, iterations: int | None = None, node_colors: np.ndarray | None = None,
) -> list[str]:
    """1-WL (colour refinement) hash of every graph of a :class:`~molood.graphs.arrays.GraphArrays`.

    By default node labels are ignored (start colour 0 for every node), i.e. graphs are compared
    as the constant-feature basic view of TU pairs sees them; pass ``node_colors`` (int [N],
    global node order) to start from labels instead. Equal hashes mean 1-WL-equivalent graphs,
    a slight over-approximation of isomorphism; used to deduplicate TU pairs, which have no SMILES.
    Refinement runs until the colour partition of each graph stops changing (at most
    ``iterations`` rounds if given).
    """
    import hashlib
    from collections import Counter

    no, eo = graphs.node_offsets, graphs.edge_offsets
    out = []
    for b in range(len(graphs)):
        n = int(graphs.num_nodes[b])
        s = graphs.src[eo[b]:eo[b + 1]] - no[b]
        d = graphs.dst[eo[b]:eo[b + 1]] - no[b]
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


# -------------------------------------------------------------------------------------- metrics
def _check(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"y_true and scores must be 1-D of equal length, got {y.shape}, {s.shape}")
    y = y.astype(bool) if y.dtype != bool else y
    if y.all() or not y.any():
        raise ValueError("need both ID (0) and OOD (1) samples")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or inf")
    return y, s


def auroc(y_true, scores) -> float:
    """Area under the ROC curve (OOD = 1 positive), ties counted ½ (= sklearn ``roc_auc_score``)."""
    y, s = _check(y_true, scores)
    order = np.argsort(s, kind="mergesort")
    s_sorted = s[order]
    ranks = np.empty(len(s), dtype=np.float64)
    # average ranks over tied groups
    bounds = np.flatnonzero(np.diff(s_sorted)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(s)]])
    avg = (starts + ends + 1) / 2.0  # 1-based average rank of each group
    ranks[order] = np.repeat(avg, ends - starts)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative TP and FP counts at each distinct threshold, highest score first."""
    order = np.argsort(-s, kind="mergesort")
    s_desc, y_desc = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s_desc)), len(s) - 1]  # last index of each tie group
    tp = np.cumsum(y_desc)[last].astype(np.float64)
    fp = (last + 1) - tp
    return tp, fp


def aupr(y_true, scores) -> float:
    """Average precision with OOD as positive (= sklearn ``average_precision_score``)."""
    y, s = _check(y_true, scores)
    tp, fp = _curve(y, s)
    precision = tp / (tp + fp)
    recall = tp / tp[-1]
    d_recall = np.diff(np.r_[0.0, recall])
    return float(np.sum(d_recall * precision))


def fpr_at_tpr(y_true, scores, tpr: float = 0.95) -> float:
    """Smallest false-positive rate on ID (label 0) over thresholds whose TPR on OOD is ≥ ``tpr``."""
    y, s = _check(y_true, scores)
    tp, fp = _curve(y, s)
    tprs, fprs = tp / y.sum(), fp / (~y).sum()
    idx = int(np.searchsorted(tprs, tpr - 1e-12, side="left"))
    return float(fprs[min(idx, len(fprs) - 1)])


def fpr95(y_true, scores) -> float:
    """FPR on ID at 95% TPR on OOD (lower is better)."""
    return fpr_at_tpr(y_true, scores, 0.95)


# ----------------------------------------------------------------------------- k-NN baseline
def _morgan_fps(smiles: Sequence[str], what: str) -> list:
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    from molood.chem.parse import quiet_rdkit

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = []
    with quiet_rdkit():
        for i, s in enumerate(smiles):
            mol = Chem.MolFromSmiles(s)
            if mol is None:
                raise ValueError(f"{what}[{i}]: RDKit cannot parse SMILES {s!r}")
            fps.append(gen.GetFingerprint(mol))
    return fps


def knn_tanimoto_scores(train_smiles: Sequence[str], query_smiles: Sequence[str]) -> np.ndarray:
    """OOD score ``1 − max_j Tanimoto(query, train_j)`` on Morgan fingerprints (radius 2, 2048 bits).

    Higher = farther from every training molecule = more OOD. float64 [len(query_smiles)].
    """
    from rdkit import DataStructs

    if len(train_smiles) == 0:
        raise ValueError("knn_tanimoto_scores needs at least one training molecule")
    train = _morgan_fps(train_smiles, "train_smiles")
    query = _morgan_fps(query_smiles, "query_smiles")
    out = np.empty(len(query), dtype=np.float64)
    for i, fp in enumerate(query):
        out[i] = 1.0 - max(DataStructs.BulkTanimotoSimilarity(fp, train))
    return out
