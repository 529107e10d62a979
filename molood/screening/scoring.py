"""Scoring raw molecules: what the screen engine's workers and the ``DataFrame.molood`` accessor
share, so that both give the same bits for the same model and molecules.

:func:`score_inputs` featurizes and scores raw SMILES, RDKit Mols or mol blocks in blocks of
:data:`GRAPH_BLOCK` rows and never raises for a bad molecule; :func:`score_frame` is the
accessor's back end (scores, p-values, flags and the SMILES scored, for a frame's SMILES or
Mol column, :func:`input_column`). Importing this module does not import torch; a model does
when it is loaded.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Sequence

import numpy as np

from molood.chem.limits import check_max_atoms
from molood.chem.parse import InputKind
from molood.detectors.calibration import check_fpr, ood_flags
from molood.exceptions import MoloodInputError
from molood.screening.columns import (
    EVIDENCE_FLOAT,
    IS_OOD_COLUMN,
    PVALUE_COLUMN,
    SCORE_COLUMN,
    SMILES_COLUMN,
    STATUS_COLUMN,
    evidence_column,
)
from molood.screening.models import get_model

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from molood.detectors.sego.detector import SEGODetector

__all__ = ["score_inputs", "score_frame", "input_column", "missing_to_none", "ScoredRows",
           "DEFAULT_BATCH_SIZE", "GRAPH_BLOCK", "MOL_COLUMN_CANDIDATES"]

DEFAULT_BATCH_SIZE = 10_000
"""Rows per chunk of :func:`~molood.screening.engine.screen` (the unit of streaming and of resume)
and per step of :func:`score_frame`."""

GRAPH_BLOCK = 125
"""Rows read, featurized and scored together (their valid molecules in one forward pass; a
divisor of :data:`~molood.screening.engine.TASK_ROWS` and :data:`DEFAULT_BATCH_SIZE`). The
RDKit molecules of a block are freed together, which costs more a molecule in bigger blocks:
one process, 20,000 MOSES molecules, bundled hybrid model 168–181 µs a molecule at 125 vs
197–209 at 250; SEGO model (5,000) 227–240 vs 263–268 µs. Scores do not depend on it."""

MOL_COLUMN_CANDIDATES = ("romol", "mol")
"""Names (any case) of a frame's RDKit-Mol column, looked for when it has no SMILES column
(``ROMol`` is what ``rdkit.Chem.PandasTools.LoadSDF`` makes)."""

_NON_FINITE = "score_error: non-finite score"


class ScoredRows(NamedTuple):
    """Scores of a run of input rows (:func:`score_inputs`)."""

    scores: np.ndarray
    """float64 [n], NaN where not scored"""
    status: list[str]
    """``"ok"`` or the reason the row was not scored"""
    smiles: list[str | None] | None
    """the (standardised, canonical) SMILES scored per row, None where none; None when not
    asked for"""
    evidence: dict[str, list] | None = None
    """the detector's evidence per row (:attr:`~molood.detectors.base.BaseDetector.
    evidence_columns`), None for a detector without evidence"""

    @staticmethod
    def concat(parts: Sequence[ScoredRows]) -> ScoredRows:
        """The rows of ``parts``, one after the other (a screen's chunk from its tasks)."""
        smiles = (None if any(p.smiles is None for p in parts)
                  else [x for p in parts for x in p.smiles])  # type: ignore[union-attr]
        evidence = None
        if parts and all(p.evidence is not None for p in parts):
            evidence = {k: [x for p in parts for x in p.evidence[k]]  # type: ignore[index]
                        for k in parts[0].evidence}  # type: ignore[union-attr]
        return ScoredRows(np.concatenate([p.scores for p in parts]),
                          [x for p in parts for x in p.status], smiles, evidence)


def score_inputs(det: "SEGODetector", inputs: Sequence[Any], kind: InputKind = "smiles",
                 block: int = GRAPH_BLOCK, *,
                 max_atoms: int | None | Literal["model"] = "model",
                 smiles: bool = False, fpr: float | None = None) -> ScoredRows:
    """Featurize and score raw inputs; never raises for a bad molecule.

    The inputs are processed in blocks of ``block`` consecutive rows (one forward pass per
    block, holding that block's valid molecules); a score does not depend on the grouping,
    not even in the last bit.

    Parameters
    ----------
    det : SEGODetector
        A fitted detector; its standardisation (or, for models without one, its
        ``largest_fragment`` setting) is used to featurize
        (:meth:`~molood.detectors.sego.detector.SEGODetector.featurizer_settings`).
    inputs : sequence
        SMILES strings or RDKit Mols (``kind="smiles"``) or MDL mol blocks
        (``kind="molblock"``); None/NaN and other junk are fine.
    max_atoms : int, None or "model", default "model"
        Rows whose molecule has more atoms get the status ``"too_large: N atoms
        (max_atoms=M)"``; "model": the detector's ``max_atoms``; None or 0: no cap.
    smiles : bool, default False
        Also return the SMILES each row was scored as (:attr:`ScoredRows.smiles`).
    fpr : float, optional
        For detectors with evidence (:attr:`ScoredRows.evidence`): the rate rows are flagged
        at, which decides the rows that get a reason (None: the model's ``fpr_``).

    Returns
    -------
    ScoredRows
        ``(scores, status, smiles)``: NaN scores and the reason where a row was not scored.
    """
    from molood.chem.features import inputs_to_arrays

    inputs = list(inputs)
    cap = det.max_atoms if max_atoms == "model" else check_max_atoms(max_atoms)
    std, largest = det.featurizer_settings()
    scores = np.full(len(inputs), np.nan, dtype=np.float64)
    status: list[str] = []
    written: list[str | None] | None = [] if smiles else None
    names = tuple(getattr(det, "evidence_columns", ()))
    evidence: dict[str, list] | None = {k: [] for k in names} if names else None
    graphs = getattr(det, "needs_graphs", True)
    for s in range(0, len(inputs), block):
        mols: list[Any] | None = [] if names else None
        # detectors with evidence read the SMILES scored too (it saves them RDKit calls)
        out: list[str | None] | None = [] if names else written
        ga, errors = inputs_to_arrays(inputs[s:s + block], kind, largest_fragment=largest,
                                      max_atoms=cap, standardizer=std, smiles_out=out,
                                      mols_out=mols, featurize=graphs)
        if names and written is not None:
            written.extend(out)  # type: ignore[arg-type]
        ok = np.fromiter((e is None for e in errors), dtype=bool, count=len(errors))
        if evidence is not None:
            got, ev = det.score_prepared(ga, mols, fpr, smiles=out)
            scores[s:s + len(errors)] = got
            for k in names:
                evidence[k].extend(ev[k])
        elif ok.any():
            scores[s:s + len(errors)][ok] = det.score_graphs(ga, batch_size=block,
                                                             max_atoms=cap)
        status.extend("ok" if e is None else e for e in errors)
    for i in np.flatnonzero(np.isinf(scores)):  # never write a non-finite score as "ok"
        scores[i] = np.nan
        status[i] = _NON_FINITE
    for i in np.flatnonzero(np.isnan(scores)):
        if status[i] == "ok":
            status[i] = _NON_FINITE
    return ScoredRows(scores, status, written, evidence)


def missing_to_none(values: list[Any]) -> list[Any]:
    """Every flavour of missing (None, pd.NA, NaN) as None, so that it scores as ``"empty"``."""
    import pandas as pd  # frames only: screening workers never import pandas

    return [None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v
            for v in values]


def _first_value(values: pd.Series) -> Any:
    """The first value of a column that is not missing (None if there is none)."""
    import pandas as pd

    for v in values:
        if v is not None and v is not pd.NA and not (isinstance(v, float) and math.isnan(v)):
            return v
    return None


def input_column(df: pd.DataFrame, col: str | None = None) -> str:
    """The column of ``df`` holding the molecules: ``col`` if given (SMILES, RDKit Mols or
    both), else its SMILES column (:func:`~molood.io.formats.find_smiles_column`), else an
    RDKit-Mol column: ``ROMol`` or ``mol`` (any case, :data:`MOL_COLUMN_CANDIDATES`) or the
    first object column whose first non-missing value is an ``rdkit.Chem.Mol``."""
    from molood.io.formats import find_smiles_column  # the io package reads frames (pandas)

    columns = list(df.columns)
    try:
        return find_smiles_column(columns, col, source="DataFrame")
    except MoloodInputError as exc:
        if col is not None:
            raise
        error = exc
    from rdkit import Chem

    lower = {str(c).lower(): c for c in reversed(columns)}
    named = [lower[c] for c in MOL_COLUMN_CANDIDATES if c in lower]
    rest = [c for c in columns if c not in named and df[c].dtype == object]
    for c in named + rest:
        if isinstance(_first_value(df[c]), Chem.Mol):
            return str(c)
    raise MoloodInputError(f"{error} No RDKit Mol column either (looked for "
                           f"{list(MOL_COLUMN_CANDIDATES)} or an object column of Mols).")


def score_frame(df: pd.DataFrame, smiles_col: str | None = None,
                model: "str | os.PathLike | SEGODetector | None" = None,
                fpr: float | None = None, batch_size: int = DEFAULT_BATCH_SIZE, *,
                max_atoms: int | None | Literal["model"] = "model",
                smiles_column: bool = True) -> pd.DataFrame:
    """Score the molecules of an in-memory frame; the frame is not modified.

    The molecules are the column :func:`input_column` finds: SMILES strings or RDKit Mol
    objects (e.g. the ``ROMol`` column of ``PandasTools.LoadSDF``), mixed freely.

    Returns a new DataFrame with ``df``'s index (any index, duplicates included) and the
    columns ``molood_score`` (float64, NaN when not scored), ``molood_pvalue`` (float64),
    ``molood_is_ood`` (nullable ``boolean``, <NA> when not scored), ``molood_status`` and,
    unless ``smiles_column=False``, ``molood_smiles`` (the standardised, canonical SMILES
    that was scored; None where none), then the detector's evidence columns (hybrid models:
    ``molood_nearest_smiles``, ``molood_nearest_id``, ``molood_nearest_similarity``,
    ``molood_reason``, the reason given for flagged rows only) — the same values
    :func:`~molood.screening.engine.screen` writes for the same model and molecules.
    ``fpr`` None flags at the model's own default (its ``fpr_``); ``max_atoms`` as in
    :func:`score_inputs` (default: the model's).
    """
    import pandas as pd

    if fpr is not None:
        check_fpr(fpr)  # before any model is loaded
    if max_atoms != "model":
        max_atoms = check_max_atoms(max_atoms)
    col = input_column(df, smiles_col)
    det = get_model(model)
    fpr = check_fpr(det.fpr_ if fpr is None else fpr)
    det.warn_fpr_resolution(fpr, "molood")
    values = missing_to_none(df[col].tolist())
    step = max(1, int(batch_size))
    parts = [score_inputs(det, values[s:s + step], max_atoms=max_atoms, smiles=smiles_column,
                          fpr=fpr)
             for s in range(0, len(values), step)]
    names = tuple(getattr(det, "evidence_columns", ()))
    rows = ScoredRows.concat(parts) if parts else ScoredRows(
        np.zeros(0), [], [] if smiles_column else None,
        {k: [] for k in names} if names else None)
    scores = rows.scores
    pvalues = det.pvalues_from_scores(scores)
    ok = ~np.isnan(scores)
    flags = pd.array(ood_flags(pvalues, fpr), dtype="boolean")
    flags[~ok] = pd.NA
    out = {SCORE_COLUMN: scores, PVALUE_COLUMN: pvalues, IS_OOD_COLUMN: flags,
           STATUS_COLUMN: rows.status}
    if smiles_column:
        out[SMILES_COLUMN] = pd.Series(rows.smiles, index=df.index, dtype=object)
    for name in names:
        values_ = rows.evidence[name]  # type: ignore[index]
        out[evidence_column(name)] = (
            pd.Series(values_, index=df.index, dtype="float64") if name in EVIDENCE_FLOAT
            else pd.Series(values_, index=df.index, dtype=object))
    return pd.DataFrame(out, index=df.index)
