"""Model files (``*.molood``): tensors in safetensors, everything else in a JSON manifest.

A model file is a plain `safetensors <https://huggingface.co/docs/safetensors>`_ file:

- tensors only: ``net.<name>`` (the SEGONet ``state_dict``), ``bank.g_f`` / ``bank.g_s`` (the
  fixed negative bank, [bank, 160]) and ``calibration.scores`` (float64 held-out ID scores);
- the safetensors metadata holds one key, ``"molood"``, whose value is a JSON manifest:
  ``format``/``format_version``, the molood/torch/dgl/rdkit/python versions that wrote it, the
  detector hyperparameters (``get_params()``), mode and seed, featurizer settings and input
  widths, the training set (size and SHA-256, see below), training time, calibration statistics
  (z-score μ/σ, n_cal, fpr, threshold), the bank description and the per-epoch losses.

Training-set fingerprints: ``graphs_sha256`` hashes the fitted :class:`~molood.graphs.arrays.GraphArrays`
(for each of x, leaf_x, src, dst, num_nodes, num_edges: ``name:dtype:shape`` then the raw
bytes, in input order); ``smiles_sha256`` (SMILES/Mol input only) hashes the newline-joined,
sorted RDKit canonical SMILES of the valid training rows (order independent).

Loading never executes code from the file: no pickle, no ``torch.load``. Anything that is not a
well-formed molood safetensors file (a ``torch.save`` pickle or zip, random bytes, an empty or
truncated file, a foreign safetensors file) raises :class:`MoloodModelError`. Files written by
another molood major.minor, torch or dgl version load with a :class:`MoloodVersionWarning`.
"""

from __future__ import annotations

from molood.exceptions import MoloodModelError, MoloodVersionWarning  # noqa: F401 - re-exported

import json
import os
import platform
import struct
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.sego.detector import SEGODetector

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MoloodModelError",
    "MoloodVersionWarning",
    "default_model_path",
    "load_model",
    "load_scoring_model",
    "read_manifest",
    "save_model",
]

FORMAT = "molood-model"
FORMAT_VERSION = 1
_MAX_HEADER = 100 * 1024 * 1024




def default_model_path() -> Path:
    """Path of the bundled default model, ``molood/models/default.molood``."""
    return Path(__file__).resolve().parent / "models" / "default.molood"


def _versions() -> dict[str, str]:
    import dgl
    import torch

    import molood

    try:
        import rdkit
        rd = rdkit.__version__
    except ImportError:  # pragma: no cover
        rd = None
    return {"molood": molood.__version__, "torch": torch.__version__, "dgl": dgl.__version__,
            "rdkit": rd, "numpy": np.__version__, "python": platform.python_version()}


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (np.integer, np.floating, np.bool_)):
        return v.item()
    return None  # e.g. a tree cache object: not part of the model


# ----------------------------------------------------------------------------- save
def save_model(det: "SEGODetector", path: str | os.PathLike) -> Path:
    """Write a fitted detector to ``path`` (atomically: temp file + rename)."""
    from safetensors.torch import save_file

    det._check_is_fitted()
    path = Path(path)
    tensors = {f"net.{k}": v.detach().cpu().contiguous().clone()
               for k, v in det.net_.state_dict().items()}
    import torch

    tensors["bank.g_f"] = det.bank_f_.detach().cpu().contiguous().clone()
    tensors["bank.g_s"] = det.bank_s_.detach().cpu().contiguous().clone()
    tensors["calibration.scores"] = torch.from_numpy(np.ascontiguousarray(det.cal_scores_,
                                                                          dtype=np.float64))
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "detector": "SEGODetector",
        "versions": _versions(),
        "params": {k: _jsonable(v) for k, v in det.get_params().items()},
        "mode": det.mode,
        "seed": det.seed,
        "featurizer": {"largest_fragment": bool(det.largest_fragment),
                       "x_dtype": det.x_dtype_, "n_node_features": det.n_features_in_,
                       "topo_dim": det.topo_dim_, "leaf_dim": det.leaf_dim_},
        "training_set": {"n_fit": det.n_fit_, "n_train": det.n_train_, "n_val": det.n_val_,
                         "graphs_sha256": det.train_sha256_,
                         "smiles_sha256": det.train_smiles_sha256_},
        "training_time_s": {"total": det.fit_time_s_, "train": det.train_time_s_,
                            "trees": det.tree_time_s_},
        "calibration": {"stats": det.stats_, "n_cal": det.n_cal_, "fpr": det.fpr_,
                        "threshold": det.threshold_ if np.isfinite(det.threshold_) else None,
                        "source": ("held-out ID molecules" if det.n_val_ > 0
                                   else "training molecules (val_fraction=0)"),
                        "zscore_source": ("last training epoch, per-graph training losses"
                                          if det.mode == "faithful" else "held-out ID molecules")},
        "bank": {"size": int(det.bank_f_.shape[0]),
                 "description": "projected g_f / g_s (eval mode) of bank_size training graphs "
                                "drawn with RandomState(seed + 1)"},
        "history": det.history_,
    }
    meta = {"molood": json.dumps(manifest, allow_nan=False, default=_jsonable)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        save_file(tensors, str(tmp), metadata=meta)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # a readable file, as open() would create it
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


# ----------------------------------------------------------------------------- load
def _read_checked(path: Path) -> tuple[bytes, dict[str, Any]]:
    """Raw bytes and manifest of a molood file, validated before any tensor is decoded."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise MoloodModelError(f"cannot read model file {path}: {exc}") from exc
    hint = "Model files are written by SEGODetector.save() / `molood train`."
    if len(raw) == 0:
        raise MoloodModelError(f"{path} is empty, not a molood model file. {hint}")
    # A safetensors header length may start with byte 0x80 (pickle's PROTO opcode), so the
    # pickle / zip hint is only given once the file has failed to parse as safetensors.
    looks_pickled = raw[:2] == b"PK" or raw[:1] == b"\x80"
    pickle_msg = (f"{path} looks like a pickle / torch.save archive; molood model files are "
                  f"safetensors and pickles are never loaded. {hint}")
    if len(raw) < 8:
        raise MoloodModelError(pickle_msg if looks_pickled else
                               f"{path} is truncated ({len(raw)} bytes). {hint}")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > min(len(raw) - 8, _MAX_HEADER) or raw[8:9] != b"{":
        if looks_pickled:
            raise MoloodModelError(pickle_msg)
        raise MoloodModelError(f"{path} is not a molood model file (bad or truncated safetensors "
                               f"header: {n} header bytes declared, file has {len(raw)}). {hint}")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
        manifest = json.loads(header["__metadata__"]["molood"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise MoloodModelError(f"{path} is not a molood model file (no valid molood manifest: "
                               f"{type(exc).__name__}). {hint}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        raise MoloodModelError(f"{path} is not a molood model file (format {fmt!r}).")
    fv = manifest.get("format_version")
    if not isinstance(fv, int) or fv > FORMAT_VERSION:
        raise MoloodModelError(f"{path} has model format version {fv!r}; this molood reads up to "
                               f"{FORMAT_VERSION}. Upgrade molood to load it.")
    return raw, manifest


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON manifest of a model file (validated; tensors are not decoded)."""
    return _read_checked(Path(path))[1]


def _installed_version(lib: str) -> str:
    """Version of an installed library from its package metadata, so that checking a model
    file does not import torch or DGL (a screen's parent process never does); the module's
    ``__version__`` where there is no metadata."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(lib)
    except PackageNotFoundError:  # pragma: no cover - e.g. a source build without dist-info
        import importlib

        return str(importlib.import_module(lib).__version__)


def _check_versions(manifest: dict[str, Any], path: Path) -> None:
    """Warn (:class:`MoloodVersionWarning`) when ``manifest`` was written with another
    molood minor version or another torch/DGL version than the running ones."""
    import molood

    saved = manifest.get("versions") or {}
    drift = []
    mm = lambda v: ".".join(str(v).split(".")[:2])  # noqa: E731
    if mm(saved.get("molood")) != mm(molood.__version__):
        drift.append(f"molood {saved.get('molood')} (running {molood.__version__})")
    for lib in ("torch", "dgl"):
        now = _installed_version(lib)
        if saved.get(lib) != now:
            drift.append(f"{lib} {saved.get(lib)} (running {now})")
    if drift:
        warnings.warn(f"model file {path} was written with {', '.join(drift)}; scores may differ "
                      "slightly from the ones it was calibrated with", MoloodVersionWarning,
                      stacklevel=3)


def bundled_model_file() -> Path:
    """:func:`default_model_path`, or FileNotFoundError saying how to build it."""
    path = default_model_path()
    if not path.exists():
        raise FileNotFoundError(f"no bundled default model at {path}; build it with `make model` "
                                "(molood train data/freesolv.csv -o molood/models/default.molood "
                                "--seed 0) or pass a model")
    return path


def load_model(path: str | os.PathLike | None = None) -> "SEGODetector":
    """Load a ``.molood`` model file (``None`` → the bundled :func:`default_model_path`).

    Raises
    ------
    FileNotFoundError
        No such file (for the default model: it has not been built into this install).
    MoloodModelError
        The file is not a valid molood model file. Nothing in it is executed.
    """
    path = bundled_model_file() if path is None else Path(path)
    raw, manifest = _read_checked(path)
    _check_versions(manifest, path)
    return _build_detector(path, raw, manifest, training_net=True)


def load_scoring_model(path: str | os.PathLike) -> "SEGODetector":
    """A scoring-only detector from a model file, for screening worker processes.

    It scores exactly like :func:`load_model` (same tensors, same
    :meth:`~molood.detectors.sego.detector.SEGODetector.score_graphs` path: the float32
    :class:`~molood.detectors.sego.nets.InferenceNet` built from the same state dict) but never builds the
    training network, so the worker does not import DGL (about 0.4 s of start-up), and it does
    not check versions (the parent process did). It cannot be refitted or saved.
    """
    path = Path(path)
    raw, manifest = _read_checked(path)
    return _build_detector(path, raw, manifest, training_net=False)


def _build_detector(path: Path, raw: bytes, manifest: dict[str, Any],
                    training_net: bool) -> "SEGODetector":
    """The fitted detector a validated file (``raw`` bytes, ``manifest``) describes; with
    ``training_net`` False, the scoring network only (``net_`` is None)."""
    import torch
    from safetensors.torch import load as st_load

    from molood.detectors.sego.detector import SEGODetector
    from molood.detectors.sego.inference import InferenceNet
    from molood.detectors.sego.nets import SEGONet

    try:
        tensors = st_load(raw)
    except Exception as exc:  # safetensors raises its own error types
        raise MoloodModelError(f"{path} is corrupt or truncated ({exc}).") from exc
    try:
        known = set(SEGODetector._param_names())
        params = {k: v for k, v in manifest["params"].items() if k in known}
        det = SEGODetector(**params)
        feat = manifest["featurizer"]
        state = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
        if training_net:
            net = SEGONet(in_dim=int(feat["n_node_features"]), topo_dim=int(feat["topo_dim"]),
                          leaf_dim=int(feat["leaf_dim"]), hidden_dim=int(det.hidden_dim),
                          num_layers=int(det.num_layers), tree_height=int(det.tree_height))
            net.load_state_dict(state, strict=True)
            net.eval()
            det.net_ = net
        else:
            det._infer = InferenceNet(state, int(det.num_layers))
            det.net_ = None  # _scoring_net() uses _infer
        det.n_features_in_ = int(feat["n_node_features"])
        det.topo_dim_, det.leaf_dim_ = int(feat["topo_dim"]), int(feat["leaf_dim"])
        det.x_dtype_ = str(feat["x_dtype"])
        det.bank_f_ = tensors["bank.g_f"].to(torch.float64)
        det.bank_s_ = tensors["bank.g_s"].to(torch.float64)
        cal = manifest["calibration"]
        det.stats_ = {k: float(v) for k, v in cal["stats"].items()}
        det.cal_scores_ = np.sort(tensors["calibration.scores"].numpy().astype(np.float64))
        det.n_cal_ = int(det.cal_scores_.size)
        det.fpr_ = float(cal["fpr"])
        det.threshold_ = det.threshold(det.fpr_)
        ts = manifest["training_set"]
        det.n_fit_, det.n_train_ = int(ts["n_fit"]), int(ts["n_train"])
        det.n_val_ = int(ts["n_val"])
        det.train_sha256_, det.train_smiles_sha256_ = ts["graphs_sha256"], ts["smiles_sha256"]
        tt = manifest["training_time_s"]
        det.fit_time_s_, det.train_time_s_, det.tree_time_s_ = tt["total"], tt["train"], tt["trees"]
        det.history_ = list(manifest.get("history") or [])
        det.manifest_ = manifest
    except MoloodModelError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise MoloodModelError(f"{path} is an incomplete or inconsistent molood model file "
                               f"({type(exc).__name__}: {exc}).") from exc
    return det
