"""Score calibration: z-score statistics and split-conformal p-values / thresholds.

Direction everywhere: **higher score = more OOD**. The calibration scores are the final OOD
scores of held-out in-distribution molecules that the model never trained on.

- p-value of a query score s: ``p(s) = (1 + #{c ∈ cal : c ≥ s}) / (n_cal + 1)``.
  For ID queries exchangeable with the calibration set, ``P(p ≤ a) ≤ a``.
- Flag at false-positive rate a: ``p(s) ≤ a``, i.e. ``s > threshold(a)`` where the threshold is
  the ``(m+1)``-th largest calibration score with ``m = min(⌊a·(n_cal+1)⌋ − 1, n_cal − 1)``;
  ``+inf`` (nothing flagged) when ``a < 1/(n_cal+1)``, the smallest fpr the set resolves.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "SIGMA_EPS",
    "zscore_stats",
    "check_fpr",
    "conformal_pvalues",
    "conformal_threshold",
    "ood_flags",
    "fpr_resolution_message",
]

SIGMA_EPS = 1e-6
"""Floor for a standard deviation used as a z-score denominator (constant losses → no blow-up)."""


def zscore_stats(values: np.ndarray) -> tuple[float, float]:
    """Mean and population std (``np.std``, as the reference) of finite ``values``, std floored
    at :data:`SIGMA_EPS`. Empty input gives (0, 1)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0, 1.0
    return float(v.mean()), float(max(v.std(), SIGMA_EPS))


def check_fpr(fpr: float) -> float:
    """``fpr`` as a float; ValueError unless 0 < fpr < 1 (the one check of an fpr argument)."""
    fpr = float(fpr)
    if not 0.0 < fpr < 1.0:
        raise ValueError(f"fpr must be in (0, 1), got {fpr}")
    return fpr


def conformal_pvalues(cal_scores: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Split-conformal p-values (float64, same shape as ``scores``; NaN stays NaN)."""
    cal = np.sort(np.asarray(cal_scores, dtype=np.float64))
    s = np.asarray(scores, dtype=np.float64)
    n_ge = cal.size - np.searchsorted(cal, s, side="left")  # #{c >= s}
    p = (1.0 + n_ge) / (cal.size + 1.0)
    return np.where(np.isnan(s), np.nan, p)


def conformal_threshold(cal_scores: np.ndarray, fpr: float) -> float:
    """Score threshold t with ``score > t  ⇔  p-value ≤ fpr`` (see module docstring)."""
    fpr = check_fpr(fpr)
    cal = np.sort(np.asarray(cal_scores, dtype=np.float64))[::-1]
    m = math.floor(fpr * (cal.size + 1) + 1e-9) - 1  # max #{cal ≥ s} still flagged
    if m < 0 or cal.size == 0:
        return math.inf
    return float(cal[min(m, cal.size - 1)])  # fpr → 1: everything above the smallest score


def ood_flags(pvalues: np.ndarray, fpr: float) -> np.ndarray:
    """The flag rule, written once: bool ``pvalue <= fpr`` (False where the p-value is NaN;
    callers that must not call an unscored row in-distribution mask those rows).

    A tolerance of 1e-12 absorbs the rounding of ``(1 + k) / (n_cal + 1)``, so that a p-value
    that equals ``fpr`` exactly in rational arithmetic is flagged, as :func:`conformal_threshold`
    says it is.
    """
    fpr = check_fpr(fpr)
    with np.errstate(invalid="ignore"):
        return np.asarray(np.asarray(pvalues, dtype=np.float64) <= fpr + 1e-12, dtype=bool)


def fpr_resolution_message(n_cal: int, fpr: float) -> str | None:
    """Why nothing can be flagged at ``fpr`` with ``n_cal`` calibration scores (``fpr`` below
    ``1/(n_cal + 1)``), or None when it can. Loud on purpose: a silent empty screen is worse."""
    floor = 1.0 / (int(n_cal) + 1)
    if fpr >= floor - 1e-15:
        return None
    return (f"fpr={fpr:g} is below the smallest rate this model's {n_cal} calibration "
            f"molecules resolve (1/{n_cal + 1} = {floor:.4g}): NOTHING CAN BE FLAGGED. Use "
            f"fpr >= {floor:.4g}, or a model calibrated on more ID molecules (the hybrid "
            "detector without 'sego' calibrates on all of them).")
