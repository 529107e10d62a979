"""Explanations: why a molecule scores as it does, in numbers, words and pictures.

:func:`explain` (also ``det.explain(...)``, ``molood explain``, ``df.molood.explain()``) gives
per molecule the score's terms, per-atom contributions (:mod:`.core`), the nearest reference
(training) molecules (:mod:`.reference`), reasons (:mod:`.reasons`) and depictions
(:mod:`.depict`, :mod:`.render`). Importing this package imports neither torch nor RDKit.
"""

from __future__ import annotations

from molood.explain.core import Explanation, Neighbour, atom_noise, explain, explain_scored
from molood.explain.reasons import Reason
from molood.explain.reference import reference_from_file, reference_from_smiles, resolve_reference

__all__ = ["explain", "explain_scored", "Explanation", "Neighbour", "Reason", "atom_noise",
           "resolve_reference", "reference_from_file", "reference_from_smiles"]
