"""Models as screening sees them: the file cache and what a screen's parent needs of a model.

:func:`get_model` loads a model file once and caches it (the ``DataFrame.molood`` accessor and
in-process scorers call it per batch). :func:`model_info` reads what the parent process of
:func:`~molood.screening.engine.screen` needs of a model (a file the workers can load, its
SHA-256, the calibration scores and default fpr) straight from the file, without torch or DGL:
only workers (or an in-process scorer) load the detector itself.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from molood._fs import file_sha256

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.base import BaseDetector
    from molood.detectors.sego.detector import SEGODetector

__all__ = ["ModelInfo", "get_model", "model_info", "model_path", "scorer_preload"]

_CACHE: "OrderedDict[tuple[str, int, int], SEGODetector]" = OrderedDict()
_CACHE_SIZE = 4
_CACHE_LOCK = threading.Lock()


def _in_memory(model: Any) -> bool:
    return model is not None and not isinstance(model, (str, os.PathLike))


def scorer_preload(model: "str | os.PathLike | BaseDetector | None") -> tuple[str, ...]:
    """What screening workers for ``model`` import before forking: no torch for a hybrid
    model without a SEGO part (read from the file's header), else the SEGO scorer's modules."""
    from molood._parallel import MOLECULE_SCORER_PRELOAD, SCORER_PRELOAD

    if _in_memory(model):
        torch_free = (getattr(model, "registry_name", None) == "hybrid"
                      and getattr(model, "sego_", None) is None)
    else:
        from molood.persist import peek_manifest

        try:
            manifest = peek_manifest(model_path(model))
        except FileNotFoundError:
            return SCORER_PRELOAD  # the error is raised where the model is loaded
        torch_free = bool(manifest) and manifest.get("detector") == "hybrid" \
            and "sego" not in manifest
    return MOLECULE_SCORER_PRELOAD if torch_free else SCORER_PRELOAD


def model_path(model: str | os.PathLike | None) -> Path:
    """The model file ``model`` names (None: the bundled default); FileNotFoundError if absent."""
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
    if _in_memory(model):
        return model  # type: ignore[return-value]
    path = model_path(model)  # type: ignore[arg-type]
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
class ModelInfo:
    """What the parent process needs of a model: no torch (workers load the real thing)."""

    path: str
    """a model file the workers can load"""
    label: str
    """the model as named in the output metadata"""
    sha256: str
    cal_scores: np.ndarray
    """sorted float64 calibration scores"""
    largest_fragment: bool
    """whether the model keeps only the largest fragment (``featurizer.largest_fragment``)"""
    fpr: float
    """the model's default false-positive rate (what a screen flags at unless told otherwise)"""
    detector: Any = None
    """the in-memory detector the caller gave, else None"""
    evidence: tuple[str, ...] = ()
    """the detector's evidence columns (``BaseDetector.evidence_columns``)"""

    def threshold(self, fpr: float) -> float:
        """Score threshold at ``fpr`` (flag = score > threshold)."""
        from molood.detectors.calibration import conformal_threshold

        return conformal_threshold(self.cal_scores, fpr)

    def pvalues(self, scores: np.ndarray) -> np.ndarray:
        """Conformal p-values of ``scores`` (NaN stays NaN)."""
        from molood.detectors.calibration import conformal_pvalues

        return conformal_pvalues(self.cal_scores, scores)


def model_info(model: "str | os.PathLike | SEGODetector | None", tmpdir: str,
               check_versions: bool = False) -> ModelInfo:
    """:class:`ModelInfo` of a model file (None: the bundled one) or a fitted detector.

    A detector is saved to ``tmpdir`` (the workers load that copy; its hash identifies the
    model). A file is validated and read without torch; ``check_versions`` warns about version
    drift as :func:`~molood.persist.load_model` does (for runs whose workers skip the check).
    """
    if _in_memory(model):
        det = model
        det._check_is_fitted()
        path = os.path.join(tmpdir, "model.molood")
        det.save(path)
        std, largest = det.featurizer_settings()
        return ModelInfo(path, f"<in-memory {type(det).__name__}>", file_sha256(path),
                         np.sort(np.asarray(det.cal_scores_, dtype=np.float64)),
                         std.largest_fragment if std else largest, float(det.fpr_), det,
                         tuple(det.evidence_columns))
    from molood import persist
    from molood.exceptions import MoloodModelError

    path = model_path(model)  # type: ignore[arg-type]
    raw, manifest = persist.read_model_file(path)  # validated, without importing torch
    if check_versions:
        persist.check_versions(manifest, path)
    try:
        tensors = persist.read_tensors(raw)
        cal = np.sort(np.asarray(tensors["calibration.scores"], dtype=np.float64))
        largest = bool(manifest["featurizer"]["largest_fragment"])
        fpr = float(manifest["calibration"]["fpr"])
        evidence = tuple(str(c) for c in manifest.get("evidence_columns") or ())
    except (KeyError, TypeError, ValueError) as exc:
        raise MoloodModelError(f"{path} is corrupt or incomplete ({type(exc).__name__}: "
                               f"{exc}).") from exc
    resolved = str(path.resolve())
    return ModelInfo(resolved, resolved, hashlib.sha256(raw).hexdigest(), cal, largest, fpr,
                     evidence=evidence)
