"""What a fitted :class:`~molood.detectors.sego.detector.SEGODetector` puts in a model file and
how it is read back (the detector's ``_get_state`` / ``_set_state``; ``molood.persist`` holds
the file format).

Tensors: ``net.<name>`` (the SEGONet state dict), ``bank.g_f`` / ``bank.g_s`` [bank, 160], the
calibration scores and the reference set (:class:`~molood.chem.reference.ReferenceSet`).
Manifest: mode, seed, featurizer (standardisation, input widths), training set (sizes, hashes,
source), calibration (z-score statistics), bank and per-epoch losses — no wall-clock times, so
that retraining gives a byte-identical file. Format-1 files (no standardisation entry, timings
recorded) load as they always scored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from molood.chem.standardize import resolve_standardizer
from molood.detectors.sego.inference import InferenceNet
from molood.detectors.sego.nets import SEGONet

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.sego.detector import SEGODetector

__all__ = ["sego_state", "restore_sego"]


def sego_state(det: "SEGODetector") -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Tensors ``net.<name>`` (the SEGONet state dict, or the scoring net's for a
    scoring-only load), ``bank.g_f``/``bank.g_s`` [bank, 160] and the calibration scores;
    manifest entries for the featurizer, training set, z-score statistics, bank
    and per-epoch losses."""
    if det.net_ is None:
        raise ValueError("a scoring-only detector (molood.persist.load_scoring_model) "
                         "cannot be saved; load it with molood.load_model")
    tensors = {f"net.{k}": v.detach().cpu().contiguous().numpy()
               for k, v in det.net_.state_dict().items()}
    tensors["bank.g_f"] = det.bank_f_.detach().cpu().contiguous().numpy()
    tensors["bank.g_s"] = det.bank_s_.detach().cpu().contiguous().numpy()
    cal_tensors, calibration = det._calibration_state()
    tensors.update(cal_tensors)
    ref_tensors, ref_manifest = det._reference_state()
    tensors.update(ref_tensors)
    std, largest = det.featurizer_settings()
    calibration.update(
        stats=det.stats_,
        source=("held-out ID molecules" if det.n_val_ > 0
                else "training molecules (val_fraction=0)"),
        zscore_source=("last training epoch, per-graph training losses"
                       if det.mode == "faithful" else "held-out ID molecules"))
    manifest = {
        "mode": det.mode,
        "seed": det.seed,
        "featurizer": {"largest_fragment": bool(largest if std is None
                                                else std.largest_fragment),
                       "standardize": None if std is None else std.to_dict(),
                       "x_dtype": det.x_dtype_, "n_node_features": det.n_features_in_,
                       "topo_dim": det.topo_dim_, "leaf_dim": det.leaf_dim_},
        "training_set": {"n_fit": det.n_fit_, "n_train": det.n_train_,
                         "n_val": det.n_val_, "graphs_sha256": det.train_sha256_,
                         "smiles_sha256": det.train_smiles_sha256_,
                         "source": getattr(det, "training_source_", None)},
        "calibration": calibration,
        "bank": {"size": int(det.bank_f_.shape[0]),
                 "description": "projected g_f / g_s (eval mode) of bank_size training "
                                "graphs drawn with RandomState(seed + 1)"},
        # losses and weights only: wall-clock times would make every file unique
        "history": [{k: v for k, v in rec.items() if k != "time_s"} for rec in det.history_],
        **ref_manifest,
    }
    return tensors, manifest


def restore_sego(det: "SEGODetector", manifest: dict[str, Any], tensors: dict[str, np.ndarray],
                 scoring_only: bool) -> None:
    """Restore from a model file; ``scoring_only`` builds only the DGL-free
    :class:`~molood.detectors.sego.inference.InferenceNet` (``net_`` is None)."""
    feat = manifest["featurizer"]
    # no entry (format 1, the bundled model): molecules as written, as they always were
    std = resolve_standardizer(feat.get("standardize"))
    det.standardize = None if std is None else std.spec
    state = {k[4:]: torch.from_numpy(np.array(v)) for k, v in tensors.items()
             if k.startswith("net.")}
    det._infer = None
    if scoring_only:
        det._infer = InferenceNet(state, int(det.num_layers))
        det.net_ = None
    else:
        net = SEGONet(in_dim=int(feat["n_node_features"]), topo_dim=int(feat["topo_dim"]),
                      leaf_dim=int(feat["leaf_dim"]), hidden_dim=int(det.hidden_dim),
                      num_layers=int(det.num_layers), tree_height=int(det.tree_height))
        net.load_state_dict(state, strict=True)
        net.eval()
        det.net_ = net
    det.n_features_in_ = int(feat["n_node_features"])
    det.topo_dim_, det.leaf_dim_ = int(feat["topo_dim"]), int(feat["leaf_dim"])
    det.x_dtype_ = str(feat["x_dtype"])
    det.bank_f_ = torch.from_numpy(np.array(tensors["bank.g_f"])).to(torch.float64)
    det.bank_s_ = torch.from_numpy(np.array(tensors["bank.g_s"])).to(torch.float64)
    det.stats_ = {k: float(v) for k, v in manifest["calibration"]["stats"].items()}
    det._restore_calibration(manifest, tensors)
    if not scoring_only:
        det._restore_reference(manifest, tensors)
    ts = manifest["training_set"]
    det.n_fit_, det.n_train_ = int(ts["n_fit"]), int(ts["n_train"])
    det.n_val_ = int(ts["n_val"])
    det.train_sha256_, det.train_smiles_sha256_ = ts["graphs_sha256"], ts["smiles_sha256"]
    det.training_source_ = ts.get("source")
    tt = manifest.get("training_time_s") or {}  # format 1 files recorded timings
    det.fit_time_s_, det.train_time_s_, det.tree_time_s_ = (tt.get("total"),
                                                               tt.get("train"),
                                                               tt.get("trees"))
    det.history_ = list(manifest.get("history") or [])
    det.epochs_ = len(det.history_) or int(det.epochs)
    det.manifest_ = manifest
