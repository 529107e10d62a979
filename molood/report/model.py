"""The model side of a report, read without torch: which model scored the file, its manifest
(training set, hashes, versions), calibration scores and reference set.

Which model: an explicit ``--model`` wins; else the file named in the screened file's metadata
(``molood_model_path``) when it still exists; else none (the report then has no calibration
histogram, highlights or neighbours, and says so). When the model's SHA-256 differs from the one
the screen recorded (``molood_model_sha256``), the report carries a warning.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from molood.chem.reference import PREFIX, ReferenceSet

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.base import BaseDetector

__all__ = ["ModelSummary", "resolve_model", "summarize_detector"]


@dataclass
class ModelSummary:
    """A model as a report describes it."""

    label: str
    path: str | None
    sha256: str | None
    manifest: dict[str, Any]
    cal_scores: np.ndarray
    reference: ReferenceSet | None
    warnings: list[str] = field(default_factory=list)
    detector: "BaseDetector | None" = None

    @property
    def training_set(self) -> dict[str, Any]:
        return dict(self.manifest.get("training_set") or {})

    @property
    def versions(self) -> dict[str, str]:
        return dict(self.manifest.get("versions") or {})


def _read_file(path: Path, reference: Any) -> ModelSummary:
    import hashlib

    from molood.explain.reference import resolve_reference
    from molood.persist import read_model_file, read_tensors

    raw, manifest = read_model_file(path)  # validated; hashed and decoded from these bytes
    tensors = read_tensors(raw)
    cal = np.sort(np.asarray(tensors["calibration.scores"], dtype=np.float64))
    ref_tensors = {k: v for k, v in tensors.items() if k.startswith(PREFIX)}
    ref = resolve_reference(None, reference, path) if reference is not None else (
        ReferenceSet.from_tensors(ref_tensors, manifest.get("reference"))
        or resolve_reference(None, None, path))
    return ModelSummary(str(path), str(path), hashlib.sha256(raw).hexdigest(), manifest, cal,
                        ref)


def summarize_detector(det: "BaseDetector", reference: Any = None) -> ModelSummary:
    """A :class:`ModelSummary` of a fitted in-memory detector."""
    from molood.explain.reference import resolve_reference

    manifest = dict(getattr(det, "manifest_", None) or {})
    if not manifest:
        manifest = {"detector": det.registry_name,
                    "training_set": {"n_fit": getattr(det, "n_fit_", None),
                                     "smiles_sha256": getattr(det, "train_smiles_sha256_", None)}}
    return ModelSummary(f"<in-memory {type(det).__name__}>", None, None, manifest,
                        np.sort(np.asarray(det.cal_scores_, dtype=np.float64)),
                        resolve_reference(det, reference), detector=det)


def resolve_model(model: "str | os.PathLike | BaseDetector | None", metadata: dict[str, str],
                  reference: Any = None) -> ModelSummary | None:
    """The report's model (module docstring), or None when there is none to be found."""
    if model is not None and not isinstance(model, (str, os.PathLike)):
        return summarize_detector(model, reference)
    warnings: list[str] = []
    if model is not None:
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"model file not found: {os.fspath(model)}")
    else:
        named = metadata.get("molood_model_path")
        if not named or not Path(named).is_file():
            return None
        path = Path(named)
    summary = _read_file(path, reference)
    recorded = metadata.get("molood_model_sha256")
    if recorded and recorded != summary.sha256:
        warnings.append(f"the file was screened with model {recorded[:12]}…, not with "
                        f"{path.name} ({(summary.sha256 or '')[:12]}…): highlights and "
                        "calibration may not match its scores")
    summary.warnings = warnings
    return summary
