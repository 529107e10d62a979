"""Scoring raw molecules: what the screen engine's workers and the ``DataFrame.molood`` accessor
share, so that both give the same bits for the same model and molecules.

:func:`score_inputs` featurizes and scores raw SMILES or mol blocks in blocks of
:data:`GRAPH_BLOCK` rows and never raises for a bad molecule; :func:`score_frame` is the
accessor's back end (scores, p-values and flags of a frame's SMILES column). Importing this
module does not import torch; a model does when it is loaded.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from molood.chem.parse import InputKind
from molood.detectors.calibration import check_fpr, ood_flags
from molood.io.formats import find_smiles_column
from molood.screening.columns import IS_OOD_COLUMN, PVALUE_COLUMN, SCORE_COLUMN, STATUS_COLUMN
from molood.screening.models import get_model

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.sego.detector import SEGODetector

__all__ = ["score_inputs", "score_frame", "DEFAULT_BATCH_SIZE", "GRAPH_BLOCK"]

DEFAULT_BATCH_SIZE = 10_000
"""Rows per chunk of :func:`~molood.screening.engine.screen` (the unit of streaming and of resume)
and per step of :func:`score_frame`."""

GRAPH_BLOCK = 250
"""Rows per forward pass (their valid molecules): 128–256 molecules per pass was fastest with
one torch thread. Scores do not depend on it."""

_NON_FINITE = "score_error: non-finite score"


def score_inputs(det: "SEGODetector", inputs: Sequence[Any], kind: InputKind = "smiles",
                 block: int = GRAPH_BLOCK) -> tuple[np.ndarray, list[str]]:
    """Featurize and score raw inputs; never raises for a bad molecule.

    The inputs are processed in blocks of ``block`` consecutive rows (one forward pass per
    block, holding that block's valid molecules); a score does not depend on the grouping,
    not even in the last bit.

    Parameters
    ----------
    det : SEGODetector
        A fitted detector (its ``largest_fragment`` setting is used to featurize).
    inputs : sequence
        SMILES strings (``kind="smiles"``) or MDL mol blocks (``kind="molblock"``); None/NaN
        and other junk are fine.

    Returns
    -------
    scores : ndarray of float64, shape [n]
        NaN where not scored.
    status : list of str, length n
        ``"ok"`` or the reason the row was not scored.
    """
    from molood.chem.features import inputs_to_arrays

    inputs = list(inputs)
    largest = bool(det.largest_fragment)
    scores = np.full(len(inputs), np.nan, dtype=np.float64)
    status: list[str] = []
    for s in range(0, len(inputs), block):
        ga, errors = inputs_to_arrays(inputs[s:s + block], kind, largest_fragment=largest)
        ok = np.fromiter((e is None for e in errors), dtype=bool, count=len(errors))
        if ok.any():
            scores[s:s + len(errors)][ok] = det.score_graphs(ga, batch_size=block)
        status.extend("ok" if e is None else e for e in errors)
    for i in np.flatnonzero(np.isinf(scores)):  # never write a non-finite score as "ok"
        scores[i] = np.nan
        status[i] = _NON_FINITE
    for i in np.flatnonzero(np.isnan(scores)):
        if status[i] == "ok":
            status[i] = _NON_FINITE
    return scores, status


def _missing_to_none(values: list[Any]) -> list[Any]:
    """Every flavour of missing (None, pd.NA, NaN) as None, so that it scores as ``"empty"``."""
    return [None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v
            for v in values]


def score_frame(df: pd.DataFrame, smiles_col: str | None = None,
                model: "str | os.PathLike | SEGODetector | None" = None,
                fpr: float | None = None, batch_size: int = DEFAULT_BATCH_SIZE) -> pd.DataFrame:
    """Score the SMILES column of an in-memory frame; the frame is not modified.

    Returns a new DataFrame with ``df``'s index (any index, duplicates included) and the four
    columns ``molood_score`` (float64, NaN when not scored), ``molood_pvalue`` (float64),
    ``molood_is_ood`` (nullable ``boolean``, <NA> when not scored) and ``molood_status`` —
    the same numbers :func:`~molood.screening.engine.screen` writes for the same model and
    molecules. ``fpr`` None flags at the model's own default (its ``fpr_``).
    """
    if fpr is not None:
        check_fpr(fpr)  # before any model is loaded
    col = find_smiles_column(list(df.columns), smiles_col, source="DataFrame")
    det = get_model(model)
    fpr = check_fpr(det.fpr_ if fpr is None else fpr)
    values = _missing_to_none(df[col].tolist())
    scores = np.full(len(values), np.nan, dtype=np.float64)
    status: list[str] = []
    step = max(1, int(batch_size))
    for s in range(0, len(values), step):
        sc, st = score_inputs(det, values[s:s + step])
        scores[s:s + len(sc)] = sc
        status.extend(st)
    pvalues = det.pvalues_from_scores(scores)
    ok = ~np.isnan(scores)
    flags = pd.array(ood_flags(pvalues, fpr), dtype="boolean")
    flags[~ok] = pd.NA
    return pd.DataFrame({SCORE_COLUMN: scores, PVALUE_COLUMN: pvalues, IS_OOD_COLUMN: flags,
                         STATUS_COLUMN: status}, index=df.index)
