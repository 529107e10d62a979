"""Leakage-free ID splits for OOD-detection benchmarks (spec §6).

The SEGO paper's protocol splits the ID set 90/10 and takes as OOD test the first |ID test|
graphs of the OOD set in file order. Its code draws the split **twice** per trial, so ≈90% of
the ID-test graphs were trained on. Here there is exactly one split per seed
(:func:`paper_split`); the double draw is kept as :func:`leaky_split`, for ablations only.

numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Split", "paper_split", "leaky_split"]


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
