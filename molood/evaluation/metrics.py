"""OOD-detection metrics: AUROC, AUPR and FPR at a TPR (FPR@95), equal to scikit-learn's.

OOD is the positive class and scores are "higher = more OOD". Ties are handled as
scikit-learn does (AUROC counts them ½; the curves step over whole tie groups), so the numbers
match ``roc_auc_score`` / ``average_precision_score`` / ``roc_curve`` without depending on it.

numpy only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["auroc", "aupr", "fpr_at_tpr", "fpr95"]


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
    """Smallest false-positive rate on ID (label 0) over thresholds whose TPR on OOD is
    ≥ ``tpr``."""
    y, s = _check(y_true, scores)
    tp, fp = _curve(y, s)
    tprs, fprs = tp / y.sum(), fp / (~y).sum()
    idx = int(np.searchsorted(tprs, tpr - 1e-12, side="left"))
    return float(fprs[min(idx, len(fprs) - 1)])


def fpr95(y_true, scores) -> float:
    """FPR on ID at 95% TPR on OOD (lower is better)."""
    return fpr_at_tpr(y_true, scores, 0.95)
