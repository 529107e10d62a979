"""What a detector's score is made of, per molecule: :class:`ScoreTerms`, the hook explanations
read (:meth:`molood.detectors.base.BaseDetector.score_terms`).

A score is a sum of named molecule-level terms; a detector whose score has an atom-level term
also splits that term over the atoms of the molecule. Units are those of the score (for SEGO:
z-scores, i.e. standard deviations of in-distribution molecules). numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ScoreTerms"]


@dataclass(frozen=True, eq=False)
class ScoreTerms:
    """One molecule's score, split into terms.

    Attributes
    ----------
    score : float
        The detector's score (higher = more OOD); NaN when the molecule was not scored.
    status : str
        ``"ok"`` or why it was not scored (as a screen's ``molood_status``).
    terms : dict of str to float
        Molecule-level terms that add up to ``score`` (empty when not scored).
    atoms : ndarray of float64 [n_atoms], or None
        Per-atom contributions to ``terms[atom_term]`` (they sum to it), indexed by the atoms of
        the molecule as RDKit parses it; positive = the atom makes the molecule look more OOD.
        None when the detector has no atom-level term.
    atom_term : str or None
        The term ``atoms`` splits.
    meaning : dict of str to str
        One line per term (and ``"atoms"``) saying what the number is.
    atom_scale : float or None
        What one atom's contribution is divided by to compare molecules of different sizes:
        the number of atoms the atom-level term averages over (SEGO: the graph's n, since
        ``c_i = (ℓ_i − μ_n)/(σ_n·n)``), so ``atoms * atom_scale`` is a per-atom z-score.
    """

    score: float
    status: str
    terms: dict[str, float] = field(default_factory=dict)
    atoms: np.ndarray | None = None
    atom_term: str | None = None
    meaning: dict[str, str] = field(default_factory=dict)
    atom_scale: float | None = None
    mol: Any = None
    """The molecule ``atoms`` indexes when it is not the input as RDKit parses it: for a
    detector that standardises, the standardised molecule (canonical atom order) it scored."""
