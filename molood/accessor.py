"""``DataFrame.molood``: score the molecules of a pandas DataFrame.

Registered when :mod:`molood` is imported. Importing this module imports pandas only; torch,
dgl and RDKit are imported the first time a method runs. Methods never modify the frame: they
return new objects aligned to the frame's index (any index, duplicates included).

Examples
--------
>>> import molood, pandas as pd
>>> df = pd.DataFrame({"smiles": ["CCO", "not a smiles", "c1ccccc1O"]})
>>> df.molood.score()  # doctest: +SKIP
0   -0.41
1     NaN
2    1.93
Name: molood_score, dtype: float64
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.sego.detector import SEGODetector

__all__ = ["MoloodAccessor"]


@pd.api.extensions.register_dataframe_accessor("molood")
class MoloodAccessor:
    """``df.molood``: OOD scores, p-values and flags for a frame's SMILES column.

    ``smiles_col`` defaults to the first of ``smiles``, ``canonical_smiles``, ``mol`` (any
    case). ``model`` is a model file path or a fitted
    :class:`~molood.detectors.sego.detector.SEGODetector` (default: the bundled model); loaded
    models are cached, so repeated calls are cheap. ``fpr`` defaults to the model's own.
    Numbers are identical to ``molood screen`` for the same model and molecules.
    """

    def __init__(self, df: pd.DataFrame) -> None:
        self._df = df

    def screen(self, smiles_col: str | None = None,
               model: str | os.PathLike | SEGODetector | None = None,
               fpr: float | None = None) -> pd.DataFrame:
        """The four result columns as a new DataFrame with the frame's index.

        ``molood_score`` (float64, higher = more OOD, NaN when not scored), ``molood_pvalue``
        (float64), ``molood_is_ood`` (nullable ``boolean``: <NA> when not scored, flagged at
        ``fpr``, default the model's own) and ``molood_status`` (``"ok"`` or the reason). Join
        it with ``df.join(...)`` or ``pd.concat([df, ...], axis=1)``.
        """
        from molood.screening.scoring import score_frame

        return score_frame(self._df, smiles_col=smiles_col, model=model, fpr=fpr)

    def score(self, smiles_col: str | None = None,
              model: str | os.PathLike | SEGODetector | None = None) -> pd.Series:
        """OOD score per row (Series ``molood_score``, float64, NaN for invalid molecules)."""
        from molood.screening.columns import SCORE_COLUMN

        return self.screen(smiles_col, model)[SCORE_COLUMN]

    def pvalue(self, smiles_col: str | None = None,
               model: str | os.PathLike | SEGODetector | None = None) -> pd.Series:
        """Conformal p-value per row (Series ``molood_pvalue``; small = OOD; NaN if invalid)."""
        from molood.screening.columns import PVALUE_COLUMN

        return self.screen(smiles_col, model)[PVALUE_COLUMN]

    def flag(self, fpr: float | None = None, smiles_col: str | None = None,
             model: str | os.PathLike | SEGODetector | None = None) -> pd.Series:
        """OOD flag per row at ID false-positive rate ``fpr`` (Series ``molood_is_ood``;
        default: the model's own fpr, the one it was fitted with).

        Nullable ``boolean`` dtype: True/False for scored rows, <NA> for rows that could not
        be scored — an invalid molecule is neither in- nor out-of-distribution. Use
        ``.fillna(False)`` (or ``.fillna(True)``) to choose.
        """
        from molood.screening.columns import IS_OOD_COLUMN

        return self.screen(smiles_col, model, fpr=fpr)[IS_OOD_COLUMN]

    def audit(self, smiles_col: str | None = None, **kwargs: Any) -> pd.DataFrame:
        """Audit the frame's own molecules (K-fold cross-fitting, :mod:`molood.audit`): the
        audit columns as a new DataFrame with the frame's index. ``kwargs``: ``folds`` (5),
        ``epochs`` (100), ``seed``, ``fpr`` (0.05), SEGODetector parameters."""
        from molood.audit import audit_frame

        return audit_frame(self._df, smiles_col=smiles_col, **kwargs)
