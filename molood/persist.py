"""Model files (``*.molood``): the file format, and nothing about any detector.

A model file is a plain `safetensors <https://huggingface.co/docs/safetensors>`_ file:

- tensors only, named by the detector (for SEGO: ``net.<name>``, ``bank.g_f`` / ``bank.g_s``,
  and for every detector ``calibration.scores``, the held-out ID scores, float64);
- the safetensors metadata holds one key, ``"molood"``, whose value is a JSON manifest:
  ``format`` / ``format_version``, ``detector`` (the registry name, e.g. ``"sego"``; see
  :mod:`molood.detectors.registry`), the molood/torch/dgl/rdkit/usearch/numpy/python versions
  that wrote it, the detector's hyper-parameters (``get_params()``), and what the detector adds
  about itself
  (training set size and SHA-256, featurizer settings, timings, calibration: n_cal, default fpr,
  threshold, ...; :meth:`~molood.detectors.base.BaseDetector._get_state`).

Format history: 1 named the detector by class (``"SEGODetector"``); 2 by registry name. Both
load. Loading never executes code from the file: no pickle, no ``torch.load``; the file is
memory-mapped and its tensors are numpy views or copies placed by the JSON header
(:func:`read_tensors`), so reading a file imports no torch (the detector class does, when it
is built). Anything that is not a well-formed molood safetensors file (a
``torch.save`` pickle or zip, random bytes, an empty or truncated file, a foreign safetensors
file) raises :class:`~molood.exceptions.MoloodModelError`. Files written by another molood
major.minor, torch or dgl version load with a :class:`~molood.exceptions.MoloodVersionWarning`.
"""

from __future__ import annotations

import json
import mmap
import os
import platform
import struct
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from molood._fs import atomic_path
from molood.exceptions import MoloodModelError, MoloodVersionWarning  # noqa: F401 - re-exported

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.base import BaseDetector

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MoloodModelError",
    "MoloodVersionWarning",
    "default_model_path",
    "sego_model_path",
    "load_model",
    "load_scoring_model",
    "read_manifest",
    "read_model_file",
    "read_tensors",
    "save_model",
    "check_versions",
    "bundled_model_file",
]

FORMAT = "molood-model"
FORMAT_VERSION = 2
_MAX_HEADER = 100 * 1024 * 1024




def default_model_path() -> Path:
    """Path of the bundled default model, ``molood/models/default.molood`` (the hybrid
    detector trained on FreeSolv)."""
    return Path(__file__).resolve().parent / "models" / "default.molood"


def sego_model_path() -> Path:
    """Path of the bundled SEGO-only model, ``molood/models/sego.molood`` (SEGO trained on
    FreeSolv, 400 epochs: the detector of the paper, with atom-level explanations)."""
    return Path(__file__).resolve().parent / "models" / "sego.molood"


def _versions() -> dict[str, str]:
    import molood

    return {"molood": molood.__version__, "torch": _installed_version("torch"),
            "dgl": _installed_version("dgl"), "rdkit": _installed_version("rdkit"),
            "usearch": _installed_version("usearch"), "numpy": np.__version__,
            "python": platform.python_version()}


def _jsonable(v: Any) -> Any:
    """``v`` as plain JSON (mappings and sequences of plain values included, e.g. a
    ``standardize`` dict); None for anything else, e.g. a tree cache object: not part of the
    model."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (np.integer, np.floating, np.bool_)):
        return v.item()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return None


# ----------------------------------------------------------------------------- save
def save_model(det: "BaseDetector", path: str | os.PathLike) -> Path:
    """Write a fitted detector to ``path`` (atomically: temp file + rename)."""
    from safetensors.numpy import save_file

    det._check_is_fitted()
    if not det.registry_name:
        raise TypeError(f"{type(det).__name__} is not registered "
                        "(molood.detectors.registry.register), so it cannot be saved")
    path = Path(path)
    tensors, fields = det._get_state()
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "detector": det.registry_name,
        "versions": _versions(),
        "params": {k: _jsonable(v) for k, v in det.model_params().items()},
        "evidence_columns": list(det.evidence_columns),
        **fields,
    }
    meta = {"molood": json.dumps(manifest, allow_nan=False, default=_jsonable)}
    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    with atomic_path(path, makedirs=True) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


# ----------------------------------------------------------------------------- load
def _map_file(path: Path) -> mmap.mmap | bytes:
    """The file's bytes, memory-mapped read-only (b"" for an empty file): the pages are read
    when touched and shared by every process that maps the same file (screening workers)."""
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                return b""
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise MoloodModelError(f"cannot read model file {path}: {exc}") from exc


def _read_checked(path: Path) -> tuple[Any, dict[str, Any]]:
    """Raw bytes (a read-only memory map) and manifest of a molood file, validated before any
    tensor is decoded."""
    raw = _map_file(path)
    hint = "Model files are written by a detector's save() / `molood train`."
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
    _check_tensor_layout(header, len(raw) - 8 - n, path)
    return raw, manifest


_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2,
             "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


def _check_tensor_layout(header: dict[str, Any], data_len: int, path: Path) -> None:
    """The tensors the header declares fill the data section exactly, each with the byte size
    its dtype and shape need: a truncated or padded file is refused here, before any tensor is
    decoded, so that every reader (``molood info`` too) validates a file the same way."""
    end = 0
    for name, t in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, stop = (int(x) for x in t["data_offsets"])
            count = int(np.prod([int(d) for d in t["shape"]], dtype=np.int64))
            size = _ITEMSIZE[t["dtype"]] * count
        except (KeyError, TypeError, ValueError) as exc:
            raise MoloodModelError(f"{path} has a malformed tensor entry {name!r} "
                                   f"({type(exc).__name__}: {exc}).") from exc
        if not 0 <= begin <= stop or stop - begin != size:
            raise MoloodModelError(f"{path} is corrupt: tensor {name!r} declares {stop - begin} "
                                   f"bytes for {count} values of {t['dtype']}.")
        end = max(end, stop)
    if end != data_len:
        what = "truncated" if end > data_len else "followed by unexpected bytes"
        raise MoloodModelError(f"{path} is {what}: its tensors need {end} bytes of data, the "
                               f"file has {data_len}.")


def read_model_file(path: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """The bytes (a read-only memory map, bytes-like) and the validated manifest of a model
    file: callers that also hash it or decode its tensors (:func:`read_tensors`) use these
    bytes. No torch."""
    return _read_checked(Path(path))


_NUMPY_DTYPES = {"BOOL": "?", "U8": "u1", "I8": "i1", "I16": "<i2", "U16": "<u2", "F16": "<f2",
                 "I32": "<i4", "U32": "<u4", "F32": "<f4", "I64": "<i8", "U64": "<u8",
                 "F64": "<f8"}

VIEW_BYTES = 1 << 20
"""Tensors at least this large are read-only views of the mapped file (:func:`read_tensors`)."""


def read_tensors(raw: Any) -> dict[str, np.ndarray]:
    """The tensors of a validated model file's bytes (:func:`read_model_file`), by name.

    Dtype, shape and place come from the file's JSON header; nothing is executed. Tensors of
    :data:`VIEW_BYTES` or more are read-only views of ``raw`` (no copy: a HNSW graph of
    hundreds of MB is read as its pages are touched, and shared by the processes that map the
    file); smaller ones are writable copies. Falls back to ``safetensors.numpy.load`` for a
    dtype numpy lacks (bfloat16, float8; molood writes none)."""
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(bytes(raw[8:8 + n]))
    if any(t["dtype"] not in _NUMPY_DTYPES for k, t in header.items() if k != "__metadata__"):
        from safetensors.numpy import load as st_load

        return st_load(bytes(raw))
    out: dict[str, np.ndarray] = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        dtype = np.dtype(_NUMPY_DTYPES[t["dtype"]])
        begin, stop = (int(x) for x in t["data_offsets"])
        arr = np.frombuffer(raw, dtype=dtype, count=(stop - begin) // dtype.itemsize,
                            offset=8 + n + begin).reshape([int(d) for d in t["shape"]])
        out[name] = arr if arr.nbytes >= VIEW_BYTES else arr.copy()
    return out


def peek_manifest(path: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest from a model file's header alone (a few kB read, nothing validated), or
    None when it cannot be read so: for choices made before the file is loaded properly
    (which then validates it)."""
    try:
        with open(path, "rb") as fh:
            size = int.from_bytes(fh.read(8), "little")
            if not 0 < size <= _MAX_HEADER:
                return None
            header = json.loads(fh.read(size))
        return json.loads(header["__metadata__"]["molood"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON manifest of a model file (validated; tensors are not decoded)."""
    return read_model_file(path)[1]


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


def check_versions(manifest: dict[str, Any], path: Path) -> None:
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


def load_model(path: str | os.PathLike | None = None) -> "BaseDetector":
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
    check_versions(manifest, path)
    return _build_detector(path, raw, manifest, scoring_only=False)


def load_scoring_model(path: str | os.PathLike) -> "BaseDetector":
    """A scoring-only detector from a model file, for screening worker processes.

    It scores exactly like :func:`load_model` (same tensors, same scoring path) but may skip
    what only training needs (SEGO: the DGL training network, about 0.4 s of imports), and it
    does not check versions (the parent process did). It cannot be refitted or saved.
    """
    path = Path(path)
    raw, manifest = _read_checked(path)
    return _build_detector(path, raw, manifest, scoring_only=True)


def _build_detector(path: Path, raw: Any, manifest: dict[str, Any],
                    scoring_only: bool) -> "BaseDetector":
    """The fitted detector that a validated file (``raw`` bytes, ``manifest``) describes."""
    from molood.detectors.registry import get_detector_class

    try:
        tensors = read_tensors(raw)
    except Exception as exc:  # safetensors raises its own error types
        raise MoloodModelError(f"{path} is corrupt or truncated ({exc}).") from exc
    cls = get_detector_class(str(manifest.get("detector", "SEGODetector")))
    try:
        return cls._from_state(manifest, tensors, scoring_only=scoring_only)
    except MoloodModelError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise MoloodModelError(f"{path} is an incomplete or inconsistent molood model file "
                               f"({type(exc).__name__}: {exc}).") from exc
