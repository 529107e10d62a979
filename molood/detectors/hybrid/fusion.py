"""One fixed rule that puts the hybrid detector's components on a common scale and adds them.

Each component's raw score ``s_c`` becomes a conformal p-value against its in-distribution
null (``null_c``: leave-one-out scores of ID molecules, or SEGO's held-out scores):
``p_c = (1 + #{null_c ≥ s_c}) / (|null_c| + 1)``. The fused score is Fisher's
``T = Σ_c −log p_c`` (in nats), the same rule for every data set, chosen on the development
pairs (README, "Hybrid detector"). A molecule that breaks the atom-type rule gets
:data:`RULE_SCORE` added, which puts it above every ID calibration molecule that does not. T is
calibrated once more, split-conformally, on ID molecules none of whose components saw them
(:class:`~molood.detectors.base.BaseDetector`).
"""

from __future__ import annotations

import numpy as np

from molood.detectors.calibration import conformal_pvalues

__all__ = ["RULE_SCORE", "fuse"]

RULE_SCORE = 1000.0
"""Added to the fused score of a molecule with an atom type never seen in the ID set: far above
any sum of −log p-values (ten components with p = 1e-40 sum to 921)."""


def fuse(scores: dict[str, np.ndarray], nulls: dict[str, np.ndarray],
         rule: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(fused scores [n], p-value of each component [n]); NaN where any component is NaN."""
    pvals = {c: conformal_pvalues(nulls[c], s) for c, s in scores.items()}
    total = np.zeros(len(next(iter(scores.values())))) if scores else np.zeros(0)
    for p in pvals.values():
        total = total - np.log(p)
    if rule is not None:
        total = total + RULE_SCORE * np.asarray(rule, dtype=bool)
    return total, pvals
