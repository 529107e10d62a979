"""Loading models and scoring molecules: what the screen engine, the ``DataFrame.molood``
accessor and the engine's worker processes share.

:func:`get_model` loads and caches model files; :func:`score_inputs` featurizes and scores raw
SMILES or mol blocks in blocks of :data:`GRAPH_BLOCK` rows (never raising for a bad molecule);
:func:`score_frame` is the accessor's back end. The private helpers serve
:func:`~molood.screening.engine.screen`: ``_model_info`` reads what the parent process needs of a model
(path, hash, calibration scores) from the file itself, and ``_init_scorer``/``_score_job`` run in
the worker processes.

Importing this module does not import torch or DGL, and neither does ``_model_info``: a screen's
parent process stays light and only workers (or an in-process scorer) load the detector.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from molood.detectors.calibration import check_fpr, ood_flags
from molood.screening.columns import IS_OOD_COLUMN, PVALUE_COLUMN, SCORE_COLUMN, STATUS_COLUMN
from molood.io.formats import find_smiles_column

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.sego.detector import SEGODetector

__all__ = [
    "get_model",
    "file_sha256",
    "score_inputs",
    "score_frame",
    "DEFAULT_BATCH_SIZE",
    "GRAPH_BLOCK",
]

DEFAULT_BATCH_SIZE = 10_000
"""Rows per chunk of :func:`~molood.screening.engine.screen` (the unit of streaming and of resume)
and per step of :func:`score_frame`."""

GRAPH_BLOCK = 250
"""Rows per forward pass (their valid molecules): 128–256 molecules per pass was fastest with
one torch thread. Scores do not depend on it."""


# =============================================================================== models
def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_CACHE: "OrderedDict[tuple[str, int, int], SEGODetector]" = OrderedDict()
_CACHE_SIZE = 4
_CACHE_LOCK = threading.Lock()


def _model_path(model: str | os.PathLike | None) -> Path:
    from molood.persist import bundled_model_file

    if model is None:
        return bundled_model_file()
    path = Path(model)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {os.fspath(model)}")
    return path


def get_model(model: "str | os.PathLike | SEGODetector | None" = None) -> "SEGODetector":
    """A fitted detector: ``model`` itself, or the file ``model`` (None: the bundled default).

    Files are loaded once and cached (keyed by real path, size and mtime, so a rewritten file is
    reloaded); repeated accessor calls do not reload the model.
    """
    if model is not None and not isinstance(model, (str, os.PathLike)):
        return model  # an in-memory detector
    path = _model_path(model)
    st = path.stat()
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    with _CACHE_LOCK:
        det = _CACHE.get(key)
        if det is not None:
            _CACHE.move_to_end(key)
            return det
    from molood.persist import load_model

    det = load_model(path)
    with _CACHE_LOCK:
        _CACHE[key] = det
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return det


@dataclass
class _ModelInfo:
    """What the parent process needs of a model: no torch (workers load the real thing)."""

    path: str  # a file the workers can load
    label: str  # for the output metadata
    sha256: str
    cal_scores: np.ndarray
    largest_fragment: bool
    detector: Any = None  # in-memory detector (given by the caller), else None

    def threshold(self, fpr: float) -> float:
        from molood.detectors.calibration import conformal_threshold

        return conformal_threshold(self.cal_scores, fpr)

    def pvalues(self, scores: np.ndarray) -> np.ndarray:
        from molood.detectors.calibration import conformal_pvalues

        return conformal_pvalues(self.cal_scores, scores)


def _model_info(model: Any, tmpdir: str, check_versions: bool = False) -> _ModelInfo:
    if model is not None and not isinstance(model, (str, os.PathLike)):
        det = model
        det._check_is_fitted()
        path = os.path.join(tmpdir, "model.molood")
        det.save(path)  # workers load this copy; its hash identifies the model
        return _ModelInfo(path, f"<in-memory {type(det).__name__}>", file_sha256(path),
                          np.sort(np.asarray(det.cal_scores_, dtype=np.float64)),
                          bool(det.largest_fragment), det)
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load

    from molood.persist import MoloodModelError, _check_versions, read_manifest

    path = _model_path(model)
    manifest = read_manifest(path)  # validates the file without importing torch
    if check_versions:  # workers do not (load_model does, in this process)
        _check_versions(manifest, path)
    try:
        tensors = st_load(path.read_bytes())
        cal = np.sort(np.asarray(tensors["calibration.scores"], dtype=np.float64))
        largest = bool(manifest["featurizer"]["largest_fragment"])
    except (SafetensorError, KeyError, TypeError, ValueError) as exc:
        raise MoloodModelError(f"{path} is corrupt or incomplete ({type(exc).__name__}: "
                               f"{exc}).") from exc
    return _ModelInfo(str(path.resolve()), str(path.resolve()), file_sha256(path), cal, largest)



# =============================================================================== scoring
def score_inputs(det: "SEGODetector", inputs: Sequence[Any], kind: str = "smiles",
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
    from molood.chem.features import molblocks_to_arrays, smiles_to_arrays

    fn = molblocks_to_arrays if kind == "molblock" else smiles_to_arrays
    inputs = list(inputs)
    largest = bool(det.largest_fragment)
    scores = np.full(len(inputs), np.nan, dtype=np.float64)
    status: list[str] = []
    for s in range(0, len(inputs), block):
        ga, errors = fn(inputs[s:s + block], largest_fragment=largest)
        ok = np.fromiter((e is None for e in errors), dtype=bool, count=len(errors))
        if ok.any():
            scores[s:s + len(errors)][ok] = det.score_graphs(ga, batch_size=block)
        status.extend("ok" if e is None else e for e in errors)
    for i in np.flatnonzero(np.isinf(scores)):  # never write a non-finite score as "ok"
        scores[i] = np.nan
        status[i] = "score_error: non-finite score"
    for i in np.flatnonzero(np.isnan(scores)):
        if status[i] == "ok":
            status[i] = "score_error: non-finite score"
    return scores, status


_WORKER_DET: Any = None


def _keep_freed_memory() -> None:
    """Make glibc keep freed memory in this (worker) process.

    Scoring a 250-molecule block allocates ~60 MB of short-lived multi-MB tensors. By default
    glibc serves such blocks with fresh ``mmap``s, or trims them off the heap, and gives them
    back to the kernel when freed, so every block faults its memory in anew: ~1.5 million page
    faults, a third of a worker's CPU time spent in the kernel, per 25,000 molecules. A fixed
    32 MiB mmap threshold and a 1 GiB trim threshold keep the memory for reuse (the worker's RSS
    stays at its peak). Only called in worker processes; a no-op where there is no glibc.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - no glibc
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(ctypes.c_int(m_mmap_threshold), ctypes.c_int(32 << 20))
    mallopt(ctypes.c_int(m_trim_threshold), ctypes.c_int(1 << 30))


def _init_scorer(model_path: str, detector: Any = None, in_worker: bool = True) -> None:
    global _WORKER_DET
    if in_worker:
        import torch

        _keep_freed_memory()
        torch.set_num_threads(1)  # one process per core is faster than threads for these sizes
    if detector is None:
        from molood.persist import load_scoring_model

        # workers need no DGL and no version check (the parent did it): the scoring-only load
        detector = load_scoring_model(model_path) if in_worker else get_model(model_path)
    _WORKER_DET = detector


def _score_job(inputs: list, kind: str) -> tuple[np.ndarray, list[str]]:
    return score_inputs(_WORKER_DET, inputs, kind)


def score_frame(df: pd.DataFrame, smiles_col: str | None = None,
                model: "str | os.PathLike | SEGODetector | None" = None, fpr: float = 0.05,
                batch_size: int = DEFAULT_BATCH_SIZE) -> pd.DataFrame:
    """Score the SMILES column of an in-memory frame; the frame is not modified.

    Returns a new DataFrame with ``df``'s index (any index, duplicates included) and the four
    columns ``molood_score`` (float64, NaN when not scored), ``molood_pvalue`` (float64),
    ``molood_is_ood`` (nullable ``boolean``, <NA> when not scored) and ``molood_status`` —
    the same numbers :func:`~molood.screening.engine.screen` writes for the same model and molecules.
    """
    fpr = check_fpr(fpr)
    col = find_smiles_column(list(df.columns), smiles_col, source="DataFrame")
    det = get_model(model)
    values = [None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
              else v for v in df[col].tolist()]  # every flavour of missing -> "empty"
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
