"""What a fitted :class:`~molood.detectors.hybrid.detector.HybridDetector` puts in a model file
and how it is read back (``molood.persist`` holds the file format).

Tensors: ``hybrid.null.<component>`` (sorted ID null scores), ``hybrid.descriptors.<stat>``
(mean, sd, q01, q99 [13]), ``hybrid.atom_types.<check>`` (codes seen), optionally
``hybrid.environments`` (sorted identifiers) and ``hybrid.embedding`` (unit ID graph embeddings,
float32), the reference set (``reference.*``: SMILES, names, packed fingerprints; an exact
neighbour index is rebuilt from them; a HNSW graph is stored as ``hybrid.neighbors.hnsw``, with
the fingerprints, which the reference set then leaves out), the calibration scores and, with a
SEGO part, SEGO's own tensors prefixed ``sego.``. Manifest: components, training set,
calibration, featurizer and, under ``"sego"``, SEGO's manifest and parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from molood.chem.atomtypes import AtomTypeSet
from molood.chem.neighbors import FingerprintIndex, HNSWFingerprintIndex
from molood.chem.reference import ReferenceSet
from molood.chem.standardize import resolve_standardizer
from molood.detectors.hybrid.components import DescriptorStats, EmbeddingIndex, EnvironmentCounts

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.hybrid.detector import HybridDetector

__all__ = ["hybrid_state", "restore_hybrid"]

_DESC_STATS = ("mean", "sd", "q01", "q99")
_CHECKS = ("element", "charge", "radical", "valence")
_SEGO = "sego."
_HNSW = "hybrid.neighbors.hnsw"
_FIRST_EXPANSION_SEARCH = 64
"""The search setting of the first HNSW models (files that do not record one)."""


def hybrid_state(det: "HybridDetector") -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(tensors, manifest entries) of a fitted hybrid detector."""
    tensors: dict[str, np.ndarray] = {f"hybrid.null.{c}": np.ascontiguousarray(v, np.float64)
                                      for c, v in det.nulls_.items()}
    cal_tensors, calibration = det._calibration_state()
    tensors.update(cal_tensors)
    calibration["source"] = ("ID molecules SEGO held out of training" if det.sego_ is not None
                             else "ID molecules, each scored leave-one-out")
    calibration["nulls"] = {c: int(v.size) for c, v in det.nulls_.items()}
    if det.descriptors_ is not None:
        for name in _DESC_STATS:
            tensors[f"hybrid.descriptors.{name}"] = np.ascontiguousarray(
                getattr(det.descriptors_, name), np.float64)
    if det.atom_types_ is not None:
        for name, codes in zip(_CHECKS, det.atom_types_.codes):
            tensors[f"hybrid.atom_types.{name}"] = np.ascontiguousarray(codes, np.int64)
    if det.environments_ is not None:
        tensors["hybrid.environments"] = np.ascontiguousarray(det.environments_.ids, np.uint32)
    if getattr(det, "embedding_", None) is not None:
        tensors["hybrid.embedding"] = np.ascontiguousarray(det.embedding_.unit, np.float32)
    index = getattr(det, "index_", None)
    hnsw = isinstance(index, HNSWFingerprintIndex)
    ref_manifest: dict[str, Any] = {}
    if det.reference_ is not None:  # a HNSW index holds the fingerprints: stored once
        ref_tensors, ref_manifest["reference"] = det.reference_.to_tensors(
            fingerprints=not hnsw)
        tensors.update(ref_tensors)
    if hnsw:
        tensors[_HNSW] = index.to_bytes()
    std, _ = det.featurizer_settings()
    manifest: dict[str, Any] = {
        "components": list(det.components_),
        "seed": det.seed,
        "featurizer": {"standardize": None if std is None else std.to_dict(),
                       "largest_fragment": bool(std is not None and std.largest_fragment),
                       "molecules": det.descriptors_ is not None},
        "training_set": {"n_fit": det.n_fit_, "graphs_sha256": det.train_sha256_,
                         "smiles_sha256": det.train_smiles_sha256_,
                         "source": getattr(det, "training_source_", None)},
        "calibration": calibration,
        "neighbors": {"index": ("hnsw" if hnsw else "exact" if index is not None else None),
                      "hnsw": ({"connectivity": HNSWFingerprintIndex.CONNECTIVITY,
                                "expansion_add": HNSWFingerprintIndex.EXPANSION_ADD,
                                "expansion_search": index.expansion_search}
                               if hnsw else None)},
        **ref_manifest,
    }
    if det.sego_ is not None:
        s_tensors, s_manifest = det.sego_._get_state()
        tensors.update({_SEGO + k: v for k, v in s_tensors.items()})
        manifest["sego"] = {"params": det.sego_.model_params(), **s_manifest}
    return tensors, manifest


def restore_hybrid(det: "HybridDetector", manifest: dict[str, Any],
                   tensors: dict[str, np.ndarray], scoring_only: bool) -> None:
    """Restore a hybrid detector from a model file (``scoring_only``: a screening worker)."""
    std = resolve_standardizer(manifest["featurizer"].get("standardize"))
    det.standardize = None if std is None else std.spec
    det.components_ = tuple(manifest["components"])
    det.nulls_ = {c: np.array(tensors[f"hybrid.null.{c}"], dtype=np.float64)
                  for c in det.components_}
    det._restore_calibration(manifest, tensors)
    det.descriptors_ = det.atom_types_ = det.environments_ = det.embedding_ = None
    det.reference_ = None
    if manifest["featurizer"].get("molecules"):
        det.descriptors_ = DescriptorStats(*(np.array(tensors[f"hybrid.descriptors.{n}"])
                                             for n in _DESC_STATS))
        det.atom_types_ = AtomTypeSet([np.array(tensors[f"hybrid.atom_types.{n}"],
                                                dtype=np.int64) for n in _CHECKS])
        if _HNSW in tensors:
            settings = (manifest.get("neighbors") or {}).get("hnsw") or {}
            det.index_ = HNSWFingerprintIndex.from_bytes(
                tensors[_HNSW], settings.get("expansion_search", _FIRST_EXPANSION_SEARCH))
            det.reference_ = ReferenceSet.from_tensors(tensors, manifest.get("reference"),
                                                       index=det.index_)
        else:
            det._restore_reference(manifest, tensors)
            det.index_ = FingerprintIndex(det.reference_.packed())
    if "hybrid.environments" in tensors:
        det.environments_ = EnvironmentCounts(np.array(tensors["hybrid.environments"]))
    if "hybrid.embedding" in tensors:
        det.embedding_ = EmbeddingIndex(np.array(tensors["hybrid.embedding"]))
    det.sego_ = None
    if "sego" in manifest:
        from molood.detectors.sego.detector import SEGODetector

        sm = manifest["sego"]
        s_tensors = {k[len(_SEGO):]: v for k, v in tensors.items() if k.startswith(_SEGO)}
        det.sego_ = SEGODetector._from_state(sm, s_tensors, scoring_only)
        det.sego_.max_atoms = None
    ts = manifest["training_set"]
    det.n_fit_ = int(ts["n_fit"])
    det.train_sha256_, det.train_smiles_sha256_ = ts["graphs_sha256"], ts["smiles_sha256"]
    det.training_source_ = ts.get("source")
    det.manifest_ = manifest
