"""``df.molood.explain()``: explanations as a DataFrame whose rows show as pictures in Jupyter.

:class:`ExplanationFrame` is a pandas DataFrame (every pandas operation works and keeps the
class) with one row per input row, aligned to the input's index:

=================================  ===========================================================
``molood_score`` … ``_status``     as ``df.molood.screen()``
``molood_term_<name>``             the score's terms (SEGO: ``global``, ``local``)
``molood_atom_contributions``      ndarray per row: each atom's share of the atom-level term
``molood_marked_atoms``            atoms of elements/environments unseen in training
``molood_neighbour``               nearest training molecule (SMILES), ``_name``, ``_similarity``
``molood_reason``                  the reasons as one line
``molood_explanation``             the :class:`~molood.explain.core.Explanation` itself
=================================  ===========================================================

Its ``_repr_html_`` draws the first rows as depictions (atoms coloured by contribution) beside
their nearest training molecule.
"""

from __future__ import annotations

import html
import os
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from molood.screening.columns import IS_OOD_COLUMN, PVALUE_COLUMN, SCORE_COLUMN, STATUS_COLUMN

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.base import BaseDetector

__all__ = ["ExplanationFrame", "explain_frame", "EXPLANATION_COLUMN", "HTML_ROWS"]

EXPLANATION_COLUMN = "molood_explanation"
HTML_ROWS = 20
"""Rows drawn by ``_repr_html_`` (the rest are counted)."""

_PIC = (220, 170)


class ExplanationFrame(pd.DataFrame):
    """A DataFrame of explanations (module docstring) that renders its rows as pictures."""

    @property
    def _constructor(self) -> type["ExplanationFrame"]:
        return ExplanationFrame

    def _repr_html_(self) -> str | None:  # type: ignore[override]
        if EXPLANATION_COLUMN not in self.columns:
            return super()._repr_html_()
        esc = html.escape
        rows = []
        for idx, e in list(self[EXPLANATION_COLUMN].items())[:HTML_ROWS]:
            pics = "".join(s for s in (e.svg(_PIC), e.neighbour_svg(_PIC)) if s)
            nb = (f"<br>nearest: {esc(e.neighbours[0].label)} "
                  f"({e.neighbours[0].similarity:.2f})" if e.neighbours else "")
            rows.append(f"<tr><th>{esc(str(idx))}</th><td style='display:flex'>{pics}</td>"
                        f"<td>{esc(_fmt(e.score))}</td><td>{esc(_fmt(e.pvalue))}</td>"
                        f"<td>{esc(e.verdict)}{nb}</td><td>{esc(e.reason)}</td></tr>")
        more = (f"<p>{len(self) - HTML_ROWS} more rows</p>" if len(self) > HTML_ROWS else "")
        return ("<table class='molood-explain'><thead><tr><th></th><th>molecule · nearest "
                "training molecule</th><th>score</th><th>p</th><th>verdict</th><th>reason</th>"
                f"</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}")


def _fmt(x: float) -> str:
    return f"{x:.3g}" if np.isfinite(x) else "–"


def explain_frame(df: pd.DataFrame, smiles_col: str | None = None,
                  model: "str | os.PathLike | BaseDetector | None" = None, *, k: int = 1,
                  reference: Any = None, fpr: float | None = None) -> ExplanationFrame:
    """Explain every row of ``df`` (its SMILES column; ``model`` as the accessor's)."""
    from molood.explain.core import explain
    from molood.screening.models import get_model, model_path
    from molood.screening.scoring import input_column, missing_to_none

    col = input_column(df, smiles_col)  # as df.molood.screen: SMILES or RDKit-Mol columns
    det = get_model(model)
    path = model_path(model) if model is None or isinstance(model, (str, os.PathLike)) else None
    values = missing_to_none(df[col].tolist())
    labels = None if isinstance(df.index, pd.RangeIndex) else [str(i) for i in df.index]
    expl = explain(det, values, k=k, reference=reference, fpr=fpr, model_path=path,
                   labels=labels)
    names = list(dict.fromkeys(t for e in expl for t in e.terms))
    data: dict[str, Any] = {
        SCORE_COLUMN: [e.score for e in expl],
        PVALUE_COLUMN: [e.pvalue for e in expl],
        IS_OOD_COLUMN: pd.array([e.is_ood for e in expl], dtype="boolean"),
        STATUS_COLUMN: [e.status for e in expl],
    }
    for t in names:
        data[f"molood_term_{t}"] = [e.terms.get(t, np.nan) for e in expl]
    data["molood_atom_contributions"] = [e.atoms for e in expl]
    data["molood_marked_atoms"] = [e.marked_atoms for e in expl]
    data["molood_neighbour"] = [e.neighbours[0].smiles if e.neighbours else None for e in expl]
    data["molood_neighbour_name"] = [e.neighbours[0].name if e.neighbours else None
                                     for e in expl]
    data["molood_neighbour_similarity"] = [e.neighbours[0].similarity if e.neighbours
                                           else np.nan for e in expl]
    data["molood_reason"] = [e.reason for e in expl]
    data[EXPLANATION_COLUMN] = expl
    return ExplanationFrame(data, index=df.index)
