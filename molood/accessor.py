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
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.sego.detector import SEGODetector

__all__ = ["MoloodAccessor"]


_MaxAtoms = int | None | Literal["model"]


@pd.api.extensions.register_dataframe_accessor("molood")
class MoloodAccessor:
    """``df.molood``: OOD scores, p-values and flags for a frame's molecules.

    The molecules are SMILES strings or RDKit Mol objects (e.g. the ``ROMol`` column of
    ``rdkit.Chem.PandasTools.LoadSDF``). ``smiles_col`` names their column; by default the
    first of ``smiles``, ``canonical_smiles``, ``mol`` (any case), else ``ROMol`` or any
    object column of Mols (:func:`~molood.screening.scoring.input_column`). ``model`` is a
    model file path or a fitted :class:`~molood.detectors.sego.detector.SEGODetector`
    (default: the bundled model); loaded models are cached, so repeated calls are cheap.
    ``fpr`` defaults to the model's own; ``max_atoms`` to the model's cap (1000 unless set;
    None or 0: no cap). Numbers are identical to ``molood screen`` for the same model,
    molecules and cap.
    """

    def __init__(self, df: pd.DataFrame) -> None:
        self._df = df

    def screen(self, smiles_col: str | None = None,
               model: str | os.PathLike | SEGODetector | None = None,
               fpr: float | None = None, *, max_atoms: _MaxAtoms = "model",
               smiles_column: bool = True) -> pd.DataFrame:
        """The result columns as a new DataFrame with the frame's index.

        ``molood_score`` (float64, higher = more OOD, NaN when not scored), ``molood_pvalue``
        (float64), ``molood_is_ood`` (nullable ``boolean``: <NA> when not scored, flagged at
        ``fpr``, default the model's own), ``molood_status`` (``"ok"`` or the reason, e.g.
        ``too_large: N atoms (max_atoms=M)``) and, unless ``smiles_column=False``,
        ``molood_smiles`` (the standardised SMILES scored). Join it with ``df.join(...)`` or
        ``pd.concat([df, ...], axis=1)``.
        """
        from molood.screening.scoring import score_frame

        return score_frame(self._df, smiles_col=smiles_col, model=model, fpr=fpr,
                           max_atoms=max_atoms, smiles_column=smiles_column)

    def _column(self, name: str, smiles_col: str | None, model: Any, fpr: float | None,
                max_atoms: _MaxAtoms) -> pd.Series:
        return self.screen(smiles_col, model, fpr, max_atoms=max_atoms,
                           smiles_column=False)[name]

    def score(self, smiles_col: str | None = None,
              model: str | os.PathLike | SEGODetector | None = None, *,
              max_atoms: _MaxAtoms = "model") -> pd.Series:
        """OOD score per row (Series ``molood_score``, float64, NaN for invalid molecules)."""
        from molood.screening.columns import SCORE_COLUMN

        return self._column(SCORE_COLUMN, smiles_col, model, None, max_atoms)

    def pvalue(self, smiles_col: str | None = None,
               model: str | os.PathLike | SEGODetector | None = None, *,
               max_atoms: _MaxAtoms = "model") -> pd.Series:
        """Conformal p-value per row (Series ``molood_pvalue``; small = OOD; NaN if invalid)."""
        from molood.screening.columns import PVALUE_COLUMN

        return self._column(PVALUE_COLUMN, smiles_col, model, None, max_atoms)

    def flag(self, fpr: float | None = None, smiles_col: str | None = None,
             model: str | os.PathLike | SEGODetector | None = None, *,
             max_atoms: _MaxAtoms = "model") -> pd.Series:
        """OOD flag per row at ID false-positive rate ``fpr`` (Series ``molood_is_ood``;
        default: the model's own fpr, the one it was fitted with).

        Nullable ``boolean`` dtype: True/False for scored rows, <NA> for rows that could not
        be scored — an invalid molecule is neither in- nor out-of-distribution. Use
        ``.fillna(False)`` (or ``.fillna(True)``) to choose.
        """
        from molood.screening.columns import IS_OOD_COLUMN

        return self._column(IS_OOD_COLUMN, smiles_col, model, fpr, max_atoms)

    def explain(self, smiles_col: str | None = None,
                model: str | os.PathLike | SEGODetector | None = None, *, k: int = 1,
                reference: Any = None, fpr: float | None = None) -> pd.DataFrame:
        """Why each row scores as it does: the result columns plus the score's terms, each
        atom's contribution, the nearest training molecule and the reason, one row per row
        (:func:`molood.explain.frame.explain_frame`); in Jupyter the rows show as pictures."""
        from molood.explain.frame import explain_frame

        return explain_frame(self._df, smiles_col, model, k=k, reference=reference, fpr=fpr)

    def report(self, path: str | os.PathLike, smiles_col: str | None = None,
               model: str | os.PathLike | SEGODetector | None = None, *, top: int = 50,
               reference: Any = None, highlights: bool = True, id_col: str | None = None,
               fpr: float | None = None) -> str:
        """Write the HTML screening report of the frame's molecules to ``path`` (as
        ``molood report``; :func:`molood.report.report_frame`) and return the path."""
        from molood.report import report_frame

        return report_frame(self._df, path, smiles_col=smiles_col, model=model, top=top,
                            reference=reference, highlights=highlights, id_col=id_col,
                            fpr=fpr).path

    def audit(self, smiles_col: str | None = None, **kwargs: Any) -> pd.DataFrame:
        """Audit the frame's own molecules (K-fold cross-fitting, :mod:`molood.audit`): the
        audit columns as a new DataFrame with the frame's index. ``kwargs``: ``folds`` (5),
        ``epochs`` (100), ``seed``, ``fpr`` (0.05), SEGODetector parameters."""
        from molood.audit import audit_frame

        return audit_frame(self._df, smiles_col=smiles_col, **kwargs)
