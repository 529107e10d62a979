"""Audit one's own collection: which molecules do not belong (before training a QSAR model)?

Every molecule is scored by a model that never saw it (**K-fold cross-fitting**): the valid
molecules are shuffled (``seed``) into ``folds`` parts; for each part, a detector is fitted on
the other parts and scores the held-out part: the hybrid detector by default
(:class:`~molood.detectors.hybrid.detector.HybridDetector`: nearest members by Tanimoto,
descriptors and atom-type rules, calibrated leave-one-out on the fold's training part), or SEGO
(``detector="sego"``, :class:`~molood.detectors.sego.detector.SEGODetector`, which holds out its
own 10% for calibration). So each score is an honest out-of-sample anomaly score, and each
p-value is a conformal p-value against molecules of the same collection that the scoring model
did not train on either.

Columns added to every input row (input order and columns kept, as ``molood screen`` does):

``molood_score``
    float64, **higher = more anomalous**: the fold model's score standardised by its own
    calibration scores, ``(s − mean(cal)) / std(cal)``, so that the folds' models are on one
    scale and rows can be ranked across folds. NaN when not scored.
``molood_pvalue``
    conformal p-value of the raw score against the fold model's calibration molecules (small =
    does not belong); its resolution is ``1 / (n_cal + 1)``.
``molood_is_ood``
    nullable bool, ``molood_pvalue <= fpr``.
``molood_status``
    ``"ok"`` or why the row was not scored (``"empty"``, ``"invalid_smiles: ..."``,
    ``"too_large: ..."``), as in ``screen``.
``molood_reason``
    chemistry rules that explain a likely misfit (``mixture: 2 fragments``, ``metal: Pt``,
    ``no carbon``, ``unusual element: Se``, ``tiny: 2 heavy atoms``, ``charged: +1``) joined by
    ``"; "``; for a flagged row without such a rule, the hybrid detector's reason (``nearest
    training molecule Tanimoto 0.18``, ...) or, with SEGO, ``"atypical structure"``; empty
    otherwise. For unscored rows: the status.
``molood_fold``
    which fold's model scored the row (−1: not scored).
``molood_nearest_row``, ``molood_nearest_smiles``, ``molood_nearest_similarity``
    the most similar *other* valid member of the collection (0-based input row, its canonical
    SMILES, Tanimoto on Morgan r=2 / 2048-bit fingerprints). A similarity of 1 means a
    duplicate (or a salt/stereo variant with the same fingerprint). O(n²) fingerprint
    comparisons: about 1 s per 2,000 molecules squared.

Entry points: :func:`audit_smiles` (a list), :func:`audit_frame` (``df.molood.audit()``) and
:func:`audit_file` (``molood audit``). torch is imported when a SEGO model is fitted.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from molood.chem.limits import DEFAULT_MAX_ATOMS
from molood.detectors.calibration import check_fpr, ood_flags
from molood.screening.columns import IS_OOD_COLUMN, PVALUE_COLUMN, SCORE_COLUMN, STATUS_COLUMN

__all__ = ["AUDIT_COLUMNS", "AuditSummary", "audit_inputs", "audit_smiles", "audit_frame",
           "audit_file", "chemistry_reasons"]

logger = logging.getLogger(__name__)

REASON_COLUMN = "molood_reason"
FOLD_COLUMN = "molood_fold"
NEAREST_ROW_COLUMN = "molood_nearest_row"
NEAREST_SMILES_COLUMN = "molood_nearest_smiles"
NEAREST_SIM_COLUMN = "molood_nearest_similarity"
AUDIT_COLUMNS = (SCORE_COLUMN, PVALUE_COLUMN, IS_OOD_COLUMN, STATUS_COLUMN, REASON_COLUMN,
                 FOLD_COLUMN, NEAREST_ROW_COLUMN, NEAREST_SMILES_COLUMN, NEAREST_SIM_COLUMN)

#: elements of ordinary organic / medicinal chemistry; anything else is reported
ORGANIC_ELEMENTS = frozenset({"H", "B", "C", "N", "O", "F", "Si", "P", "S", "Cl", "Br", "I"})
METALS = frozenset(
    "Li Be Na Mg Al K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In "
    "Sn Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po "
    "Fr Ra Ac Th Pa U Np Pu Am".split())
MIN_HEAVY_ATOMS = 4


@dataclass(frozen=True)
class AuditSummary:
    """What :func:`audit_file` did: rows, scored rows, flagged rows, folds, seconds."""

    input: str
    output: str
    rows: int
    scored: int
    flagged: int
    folds: int
    fpr: float
    seconds: float

    def __str__(self) -> str:
        return (f"audited {self.rows} rows ({self.scored} scored, {self.rows - self.scored} "
                f"not scored) with {self.folds}-fold cross-fitting: {self.flagged} flagged at "
                f"fpr={self.fpr:g} -> {self.output} ({self.seconds:.1f} s)")


def chemistry_reasons(mol: Any) -> list[str]:
    """Rule-based reasons why a molecule may not belong in a drug-like collection (RDKit Mol)."""
    from rdkit import Chem

    frags = len(Chem.GetMolFrags(mol))
    out = []
    if frags > 1:
        out.append(f"mixture: {frags} fragments")
    symbols = sorted({a.GetSymbol() for a in mol.GetAtoms()})
    metals = [s for s in symbols if s in METALS]
    if metals:
        out.append("metal: " + ",".join(metals))
    if "C" not in symbols:
        out.append("no carbon")
    odd = [s for s in symbols if s not in ORGANIC_ELEMENTS and s not in METALS]
    if odd:
        out.append("unusual element: " + ",".join(odd))
    heavy = mol.GetNumHeavyAtoms()
    if heavy < MIN_HEAVY_ATOMS:
        out.append(f"tiny: {heavy} heavy atoms")
    charge = sum(a.GetFormalCharge() for a in mol.GetAtoms())
    if charge:
        out.append(f"charged: {charge:+d}")
    return out


def _folds(n: int, folds: int, seed: int) -> np.ndarray:
    """Fold id per valid molecule: a seeded permutation cut into ``folds`` near-equal parts."""
    fold_of = np.empty(n, dtype=np.int64)
    for k, part in enumerate(np.array_split(np.random.RandomState(seed).permutation(n), folds)):
        fold_of[part] = k
    return fold_of


def _nearest(mols: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Index and Tanimoto similarity of each molecule's most similar *other* molecule."""
    from rdkit import DataStructs

    from molood.chem.fingerprints import mol_bitvects

    fps = mol_bitvects(mols)
    idx = np.full(len(fps), -1, dtype=np.int64)
    sim = np.full(len(fps), np.nan)
    for i, fp in enumerate(fps):
        if len(fps) < 2:
            break
        s = np.asarray(DataStructs.BulkTanimotoSimilarity(fp, fps))
        s[i] = -1.0
        j = int(np.argmax(s))
        idx[i], sim[i] = j, s[j]
    return idx, sim


def audit_inputs(inputs: Sequence[Any], kind: str = "smiles", *, folds: int = 5,
                 detector: str = "hybrid", epochs: int = 100, seed: int = 0,
                 fpr: float = 0.05, max_atoms: int | None = DEFAULT_MAX_ATOMS,
                 num_threads: int | None = 1, verbose: bool = False,
                 **detector_params: Any) -> pd.DataFrame:
    """Audit raw inputs (SMILES or mol blocks, ``kind``): the :data:`AUDIT_COLUMNS`, one row per
    input in input order (RangeIndex). See the module docstring for the columns.

    ``detector``: "hybrid" (default; seconds for thousands of molecules) or "sego". SEGO's
    ``epochs`` default to 100 (a quarter of its 400) so that an audit of a few thousand
    molecules fits in minutes on a laptop. ``detector_params`` go to the detector (e.g.
    ``k``, or SEGO's ``alpha``). Needs at least ``max(2·folds, 20)`` valid molecules.
    """
    from molood.chem.features import inputs_to_arrays

    check_fpr(fpr)
    folds = int(folds)
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    if detector not in ("hybrid", "sego"):
        raise ValueError(f"detector must be 'hybrid' or 'sego', got {detector!r}")
    inputs = list(inputs)
    parsed: list[Any] = []  # graphs only for SEGO fold models; molecules for all the rest
    ga, errors = inputs_to_arrays(inputs, kind, largest_fragment=False, max_atoms=max_atoms,
                                  mols_out=parsed, featurize=detector == "sego")
    valid = np.flatnonzero([e is None for e in errors])
    if len(valid) < max(2 * folds, 20):
        raise ValueError(f"audit needs at least {max(2 * folds, 20)} valid molecules for "
                         f"{folds}-fold cross-fitting, got {len(valid)}")
    mols = [parsed[i] for i in valid]
    n = len(inputs)
    score = np.full(n, np.nan)
    pval = np.full(n, np.nan)
    fold_col = np.full(n, -1, dtype=np.int64)
    why: list[str | None] = [None] * n
    fold_of = _folds(len(valid), folds, seed)
    for k in range(folds):
        t0 = time.perf_counter()
        train, held = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
        det = _fold_model(detector, [mols[i] for i in train],
                          None if ga is None else ga.take(train), seed=int(seed) + k,
                          epochs=int(epochs), fpr=fpr, num_threads=num_threads,
                          verbose=verbose, max_atoms=max_atoms, **detector_params)
        if detector == "hybrid":
            ev = det.score_evidence([mols[i] for i in held], fpr=fpr)
            raw = np.asarray(ev["score"], dtype=np.float64)
            for i, r, st in zip(valid[held].tolist(), ev["reason"], ev["status"]):
                why[i] = r
                if st != "ok":  # its standardisation failed: say so, not "non-finite score"
                    errors[i] = st
        else:
            raw = det.score_graphs(ga.take(held))
        cal = det.cal_scores_
        score[valid[held]] = (raw - cal.mean()) / max(float(cal.std()), 1e-12)
        pval[valid[held]] = det.pvalues_from_scores(raw)
        fold_col[valid[held]] = k
        logger.info("audit fold %d/%d: trained on %d, scored %d (%.1f s)", k + 1, folds,
                    len(train), len(held), time.perf_counter() - t0)
    status = ["ok" if e is None else e for e in errors]
    for i in np.flatnonzero(np.isnan(score) & (fold_col >= 0)):  # never "ok" without a score
        if status[i] == "ok":
            status[i] = "score_error: non-finite score"
        fold_col[i] = -1
    flags = pd.array(ood_flags(pval, fpr), dtype="boolean")
    flags[np.isnan(pval)] = pd.NA
    from rdkit import Chem

    near_idx, near_sim = _nearest(mols)
    near_row = np.full(n, -1, dtype=np.int64)
    near_sim_col = np.full(n, np.nan)
    near_smi: list[str | None] = [None] * n
    reasons = [s if s != "ok" else "" for s in status]
    for p, i in enumerate(valid):
        if near_idx[p] >= 0:
            near_row[i], near_sim_col[i] = valid[near_idx[p]], near_sim[p]
            near_smi[i] = Chem.MolToSmiles(mols[near_idx[p]])
        if status[i] == "ok":
            rules = chemistry_reasons(mols[p])
            reasons[i] = "; ".join(rules) if rules else (
                (why[i] or "atypical structure") if bool(flags[i]) else "")
    return pd.DataFrame({SCORE_COLUMN: score, PVALUE_COLUMN: pval, IS_OOD_COLUMN: flags,
                         STATUS_COLUMN: status, REASON_COLUMN: reasons, FOLD_COLUMN: fold_col,
                         NEAREST_ROW_COLUMN: near_row, NEAREST_SMILES_COLUMN: near_smi,
                         NEAREST_SIM_COLUMN: near_sim_col})


def _fold_model(detector: str, mols: list[Any], graphs: Any, *, seed: int, epochs: int,
                fpr: float, num_threads: int | None, verbose: bool, max_atoms: int | None,
                **params: Any) -> Any:
    """One fold's detector, fitted on the fold's training molecules (hybrid) or graphs (SEGO,
    which holds out 10% of them for calibration)."""
    if detector == "hybrid":
        import warnings

        from molood.detectors.hybrid.detector import HybridDetector

        with warnings.catch_warnings():  # a member it cannot standardise: its row says so
            warnings.filterwarnings("ignore", "skipping .* unparseable", UserWarning)
            return HybridDetector(seed=seed, fpr=fpr, verbose=verbose, max_atoms=max_atoms,
                                  on_invalid="skip", **params).fit(mols)
    from molood.detectors.sego.detector import SEGODetector

    return SEGODetector(epochs=epochs, seed=seed, fpr=fpr, val_fraction=0.1,
                        num_threads=num_threads, verbose=verbose, max_atoms=max_atoms,
                        **params).fit(graphs)


def audit_smiles(smiles: Sequence[Any], **kwargs: Any) -> pd.DataFrame:
    """:func:`audit_inputs` for a list of SMILES (None/NaN rows are reported as ``"empty"``)."""
    return audit_inputs(smiles, "smiles", **kwargs)


def audit_frame(df: pd.DataFrame, smiles_col: str | None = None, **kwargs: Any) -> pd.DataFrame:
    """The audit columns for a frame's SMILES column, with the frame's index (not modified)."""
    from molood.io.formats import find_smiles_column
    from molood.screening.scoring import missing_to_none

    col = find_smiles_column(list(df.columns), smiles_col, source="DataFrame")
    out = audit_inputs(missing_to_none(df[col].tolist()), "smiles", **kwargs)
    out.index = df.index
    return out


def audit_file(input: str | os.PathLike, output: str | os.PathLike, *,
               smiles_col: str | None = None, **kwargs: Any) -> AuditSummary:
    """Audit a collection file (formats as ``molood screen``) and write every input row, in
    order, with the audit columns appended; the output appears atomically when complete
    (``.parquet`` also stores the settings in its key-value metadata)."""
    import molood
    from molood.exceptions import MoloodInputError
    from molood.io.formats import detect_format
    from molood.io.readers import read_batches
    from molood.io.writers import open_writer
    from molood.screening.engine import check_arguments

    t0 = time.perf_counter()
    input, output = os.fspath(input), os.fspath(output)
    check_arguments(input, output, kwargs.get("fpr"), None)  # the same refusals as screen
    batches = list(read_batches(input, smiles_col if detect_format(input) != "sdf" else None,
                                batch_size=100_000, infer_types=False))
    if not batches:
        raise MoloodInputError(f"{input}: no rows")
    kind = batches[0].kind
    columns = pd.concat([b.columns for b in batches], ignore_index=True)
    inputs = [x for b in batches for x in b.inputs]
    blocks = [x for b in batches for x in b.molblocks] if kind == "molblock" else None
    res = audit_inputs(inputs, kind, **kwargs)
    table = pd.concat([columns.drop(columns=[c for c in AUDIT_COLUMNS if c in columns]), res],
                      axis=1)
    fpr = float(kwargs.get("fpr", 0.05))
    meta = {"molood_version": molood.__version__, "molood_command": "audit",
            "molood_folds": str(kwargs.get("folds", 5)),
            "molood_detector": str(kwargs.get("detector", "hybrid")),
            "molood_epochs": str(kwargs.get("epochs", 100)),
            "molood_seed": str(kwargs.get("seed", 0)), "molood_fpr": repr(fpr),
            "molood_input": os.path.basename(input)}
    from molood.io.formats import find_smiles_column

    smi_col = None if kind == "molblock" else find_smiles_column(list(columns.columns), smiles_col)
    with open_writer(output, metadata=meta, smiles_col=smi_col) as w:
        w.write(table, molblocks=blocks)
    scored = int(res[SCORE_COLUMN].notna().sum())
    return AuditSummary(input=input, output=output, rows=len(table), scored=scored,
                        flagged=int(res[IS_OOD_COLUMN].fillna(False).sum()),
                        folds=int(kwargs.get("folds", 5)), fpr=fpr,
                        seconds=time.perf_counter() - t0)
