"""Screening at scale: stream a library through a model, in chunks, resumably.

:func:`screen` reads a library (``.parquet``, ``.csv[.gz]``, ``.tsv[.gz]``, ``.smi[.gz]``,
``.sdf[.gz]``) in chunks of ``batch_size`` rows, featurizes and scores each chunk (in
``workers`` processes when asked), and writes every input row once, in input order, with four
columns appended:

``molood_score``
    float64 OOD score, **higher = more OOD**; null when the row could not be scored.
``molood_pvalue``
    split-conformal p-value against the model's held-out ID molecules (small = OOD); null when
    not scored.
``molood_is_ood``
    bool, ``molood_pvalue <= fpr`` (equivalently ``score > threshold(fpr)``); null when not
    scored.
``molood_status``
    ``"ok"`` or why the row was not scored (``"empty"``, ``"invalid_smiles: <RDKit message>"``,
    ``"sdf_parse_error: <RDKit message>"``).

Scores depend on the molecule and the model only, never on ``workers``, ``batch_size`` or the
other molecules of a chunk (the detector scores against a fixed bank, with row-independent
float32 embeddings and float64 losses). They are
bitwise identical for any ``workers`` and for every ``batch_size`` that is a multiple of
:data:`GRAPH_BLOCK` (250; the default 10,000 is), and within float64 rounding (~1e-15)
otherwise; :func:`score_frame` (the ``DataFrame.molood`` accessor) gives the same bits as
:func:`screen`.

Crash safety and ``resume``: every finished chunk is first written atomically (temp file,
fsync, ``os.replace``) as a Parquet part in ``<output>.molood-parts/`` together with a
``state.json`` describing the run (input path/size/mtime, model SHA-256, chunk size, options);
the output itself is streamed into ``<output>.part`` and moved into place only when the run is
complete, after which the work directory is removed. An interrupted run (Ctrl-C, SIGTERM,
SIGKILL, power loss) therefore never leaves a partial file at ``output``, and
``resume=True`` replays the finished parts and continues after the last one; its output is
byte-for-byte the output of an uninterrupted run.

CSV/TSV columns are carried through as text, exactly as in the input (a column whose values
change type half-way through a large file cannot break a long run); Parquet columns keep their
Arrow types; SD-file properties are text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from molood._parallel import ordered_map, resolve_n_jobs
from molood.io import MolBatch, MoloodInputError, detect_format, find_smiles_column, open_writer

if TYPE_CHECKING:  # pragma: no cover
    from molood.detector import SEGODetector

__all__ = [
    "screen",
    "score_frame",
    "score_inputs",
    "train_file",
    "get_model",
    "file_sha256",
    "work_dir_for",
    "ScreenSummary",
    "MoloodResumeError",
    "SCORE_COLUMN",
    "PVALUE_COLUMN",
    "IS_OOD_COLUMN",
    "STATUS_COLUMN",
    "OUTPUT_COLUMNS",
    "DEFAULT_BATCH_SIZE",
    "GRAPH_BLOCK",
]

logger = logging.getLogger(__name__)

SCORE_COLUMN = "molood_score"
PVALUE_COLUMN = "molood_pvalue"
IS_OOD_COLUMN = "molood_is_ood"
STATUS_COLUMN = "molood_status"
OUTPUT_COLUMNS = (SCORE_COLUMN, PVALUE_COLUMN, IS_OOD_COLUMN, STATUS_COLUMN)

DEFAULT_BATCH_SIZE = 10_000
"""Rows per chunk: the unit of streaming, of work per worker task and of resume."""

GRAPH_BLOCK = 250
"""Rows per forward pass (their valid molecules). Chunks and frames are cut into blocks at row
positions that are multiples of this, so scores are bitwise identical across chunk sizes that
are multiples of it; 128–256 molecules per pass was fastest with one torch thread."""

_MOLBLOCK_COLUMN = "__molood_molblock"  # SD in -> SD out: the record's structure, parts only
_STATE_VERSION = 1

_RESULT_FIELDS = [pa.field(SCORE_COLUMN, pa.float64()), pa.field(PVALUE_COLUMN, pa.float64()),
                  pa.field(IS_OOD_COLUMN, pa.bool_()), pa.field(STATUS_COLUMN, pa.string())]


class MoloodResumeError(RuntimeError):
    """``resume=True`` but the interrupted run's work directory belongs to a different run."""


# =============================================================================== summary
@dataclass(frozen=True, slots=True)
class ScreenSummary:
    """What :func:`screen` did. ``str(summary)`` is the one-line report the CLI prints."""

    input: str
    output: str
    rows: int
    """input rows written to the output (all of them)"""
    scored: int
    """rows with a score (``molood_status == "ok"``)"""
    invalid: int
    """rows that could not be scored"""
    flagged: int
    """rows with ``molood_is_ood`` true"""
    seconds: float
    """wall time of this call (a resumed run counts only its own time)"""
    resumed_rows: int
    """rows taken from an interrupted run's finished chunks"""
    fpr: float
    threshold: float
    model_path: str
    model_sha256: str
    workers: int
    batch_size: int

    @property
    def rate(self) -> float:
        """Molecules per second processed by this call."""
        done = self.rows - self.resumed_rows
        return done / self.seconds if self.seconds > 0 else float("nan")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rate"] = self.rate
        return d

    def __str__(self) -> str:
        resumed = f", {self.resumed_rows:,} resumed" if self.resumed_rows else ""
        return (f"{self.rows:,} rows: {self.scored:,} scored, {self.invalid:,} invalid, "
                f"{self.flagged:,} flagged OOD at fpr {self.fpr:g}{resumed} "
                f"in {self.seconds:.1f} s ({self.rate:,.0f} mol/s) -> {self.output}")


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
    from molood.persist import default_model_path

    if model is None:
        path = default_model_path()
        if not path.exists():
            raise FileNotFoundError(f"no bundled default model at {path}; build it with `make "
                                    "model` (molood train data/freesolv.csv -o "
                                    "molood/models/default.molood --seed 0) or pass a model")
        return path
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
        from molood.calibrate import conformal_threshold

        return conformal_threshold(self.cal_scores, fpr)

    def pvalues(self, scores: np.ndarray) -> np.ndarray:
        from molood.calibrate import conformal_pvalues

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

    from molood.persist import MoloodModelError, read_manifest

    path = _model_path(model)
    manifest = read_manifest(path)  # validates the file without importing torch
    if check_versions:  # workers do not (load_model does, in this process)
        _warn_version_drift(manifest, path)
    try:
        tensors = st_load(path.read_bytes())
        cal = np.sort(np.asarray(tensors["calibration.scores"], dtype=np.float64))
        largest = bool(manifest["featurizer"]["largest_fragment"])
    except (SafetensorError, KeyError, TypeError, ValueError) as exc:
        raise MoloodModelError(f"{path} is corrupt or incomplete ({type(exc).__name__}: "
                               f"{exc}).") from exc
    return _ModelInfo(str(path.resolve()), str(path.resolve()), file_sha256(path), cal, largest)


def _warn_version_drift(manifest: dict[str, Any], path: Path) -> None:
    """``persist``'s version warning, from package metadata (no torch/dgl import in the parent;
    workers load the model with :func:`_scoring_detector`, which does not check versions)."""
    import warnings
    from importlib.metadata import PackageNotFoundError, version

    import molood
    from molood.persist import MoloodVersionWarning

    saved = manifest.get("versions") or {}
    mm = lambda v: ".".join(str(v).split(".")[:2])  # noqa: E731
    drift = []
    if mm(saved.get("molood")) != mm(molood.__version__):
        drift.append(f"molood {saved.get('molood')} (running {molood.__version__})")
    for lib in ("torch", "dgl"):
        try:
            now = version(lib)
        except PackageNotFoundError:  # pragma: no cover - not installed as a distribution
            continue
        if saved.get(lib) != now:
            drift.append(f"{lib} {saved.get(lib)} (running {now})")
    if drift:
        warnings.warn(f"model file {path} was written with {', '.join(drift)}; scores may differ "
                      "slightly from the ones it was calibrated with", MoloodVersionWarning,
                      stacklevel=3)


# =============================================================================== scoring core
def score_inputs(det: "SEGODetector", inputs: Sequence[Any], kind: str = "smiles",
                 block: int = GRAPH_BLOCK) -> tuple[np.ndarray, list[str]]:
    """Featurize and score raw inputs; never raises for a bad molecule.

    The inputs are processed in blocks of ``block`` consecutive rows (one forward pass per
    block, holding that block's valid molecules). Scores do not depend on the grouping beyond
    float64 rounding (~1e-15); with the same grouping they are bitwise identical, which is why
    :func:`screen` and :func:`score_frame` both group rows by their position (chunks are
    multiples of ``GRAPH_BLOCK`` rows by default).

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
    from molood.featurize import molblocks_to_arrays, smiles_to_arrays

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


def _scoring_detector(path: str) -> "SEGODetector":
    """A scoring-only detector read straight from a model file, for worker processes.

    It scores exactly like ``load_model(path)`` (same tensors, same
    :meth:`SEGODetector.score_graphs` path: the float32 :class:`~molood.model.InferenceNet`
    built from the same state dict), but never builds the training network, so the worker does
    not import DGL (about 0.4 s of start-up per worker). The file was validated and
    version-checked by the parent (:func:`_model_info`).
    """
    import torch
    from safetensors.torch import load as st_load

    from molood.detector import SEGODetector
    from molood.model import InferenceNet
    from molood.persist import MoloodModelError, _read_checked

    raw, manifest = _read_checked(Path(path))
    try:
        tensors = st_load(raw)
        known = set(SEGODetector._param_names())
        det = SEGODetector(**{k: v for k, v in manifest["params"].items() if k in known})
        feat = manifest["featurizer"]
        det._infer = InferenceNet({k[4:]: v for k, v in tensors.items() if k.startswith("net.")},
                                  int(det.num_layers))
        det.net_ = None  # scoring only: _scoring_net() uses _infer
        det.n_features_in_ = int(feat["n_node_features"])
        det.bank_f_ = tensors["bank.g_f"].to(torch.float64)
        det.bank_s_ = tensors["bank.g_s"].to(torch.float64)
        det.stats_ = {k: float(v) for k, v in manifest["calibration"]["stats"].items()}
        det.cal_scores_ = np.sort(tensors["calibration.scores"].numpy().astype(np.float64))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise MoloodModelError(f"{path} is an incomplete or inconsistent molood model file "
                               f"({type(exc).__name__}: {exc}).") from exc
    return det


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
        _WORKER_DET = detector if detector is not None else _scoring_detector(model_path)
        return
    _WORKER_DET = detector if detector is not None else get_model(model_path)


def _score_job(inputs: list, kind: str) -> tuple[np.ndarray, list[str]]:
    return score_inputs(_WORKER_DET, inputs, kind)


def _check_fpr(fpr: float) -> float:
    fpr = float(fpr)
    if not 0.0 < fpr < 1.0:
        raise ValueError(f"fpr must be in (0, 1), got {fpr}")
    return fpr


def _flags(pvalues: np.ndarray, fpr: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # same tolerance as SEGODetector.predict
        return pvalues <= fpr + 1e-12


def score_frame(df: pd.DataFrame, smiles_col: str | None = None,
                model: "str | os.PathLike | SEGODetector | None" = None, fpr: float = 0.05,
                batch_size: int = DEFAULT_BATCH_SIZE) -> pd.DataFrame:
    """Score the SMILES column of an in-memory frame; the frame is not modified.

    Returns a new DataFrame with ``df``'s index (any index, duplicates included) and the four
    columns ``molood_score`` (float64, NaN when not scored), ``molood_pvalue`` (float64),
    ``molood_is_ood`` (nullable ``boolean``, <NA> when not scored) and ``molood_status`` —
    the same numbers :func:`screen` writes for the same model and molecules.
    """
    fpr = _check_fpr(fpr)
    col = find_smiles_column(list(df.columns), smiles_col, source="DataFrame")
    det = get_model(model)
    values = [None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
              else v for v in df[col].tolist()]  # every flavour of missing -> "empty"
    scores = np.full(len(values), np.nan, dtype=np.float64)
    status: list[str] = []
    step = max(GRAPH_BLOCK, int(batch_size) // GRAPH_BLOCK * GRAPH_BLOCK)
    for s in range(0, len(values), step):
        sc, st = score_inputs(det, values[s:s + step])
        scores[s:s + len(sc)] = sc
        status.extend(st)
    pvalues = det.pvalues_from_scores(scores)
    ok = ~np.isnan(scores)
    flags = pd.array(_flags(pvalues, fpr), dtype="boolean")
    flags[~ok] = pd.NA
    return pd.DataFrame({SCORE_COLUMN: scores, PVALUE_COLUMN: pvalues, IS_OOD_COLUMN: flags,
                         STATUS_COLUMN: status}, index=df.index)


# =============================================================================== input plan
@dataclass
class _Plan:
    fmt: str
    fields: list[pa.Field]  # input columns carried to the output, in order
    smiles_col: str | None  # resolved SMILES column (tables) or None (SD files)
    rows: int | None  # total rows when known cheaply (progress bar only)


def _count_lines(path: str) -> int:
    import gzip

    opener = gzip.open if path.lower().endswith(".gz") else open
    n, last = 0, b"\n"
    with opener(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")


def _plan(path: str, smiles_col: str | None, want_count: bool) -> _Plan:
    from molood.io import read_batches

    fmt = detect_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        col = find_smiles_column(pf.schema_arrow.names, smiles_col, source=path)
        fields = [f.remove_metadata() if f.metadata else f for f in pf.schema_arrow]
        return _Plan(fmt, fields, col, pf.metadata.num_rows)
    if fmt in ("csv", "tsv"):
        import pyarrow.csv as pacsv

        try:
            r = pacsv.open_csv(path, parse_options=pacsv.ParseOptions(
                delimiter="\t" if fmt == "tsv" else ","),
                read_options=pacsv.ReadOptions(block_size=1 << 16))
            names = r.schema.names
            r.close()
        except pa.ArrowInvalid as exc:
            if os.path.getsize(path) == 0 or "Empty CSV" in str(exc):
                return _Plan(fmt, [], None, 0)
            raise MoloodInputError(f"{path}: cannot read as CSV: {exc}") from exc
        col = find_smiles_column(names, smiles_col, source=path)
        rows = max(_count_lines(path) - 1, 0) if want_count else None  # estimate: quoted \n
        return _Plan(fmt, [pa.field(n, pa.string()) for n in names], col, rows)
    if fmt == "smi":
        if smiles_col not in (None, "smiles"):
            raise MoloodInputError(f"{path}: a .smi file has the columns ['smiles', 'name']; "
                                   f"no column {smiles_col!r}")
        rows = _count_lines(path) if want_count else None
        return _Plan(fmt, [pa.field("smiles", pa.string()), pa.field("name", pa.string())],
                     "smiles", rows)
    # SD file: the property names of all records (a record may lack some) and the row count
    names: dict[str, None] = {"_Name": None}
    rows = 0
    for b in read_batches(path, batch_size=5_000):
        names.update(dict.fromkeys(str(c) for c in b.columns.columns))
        rows += len(b)
    return _Plan(fmt, [pa.field(n, pa.string()) for n in names], None, rows)


# =============================================================================== chunk tables
def _chunk_table(batch: MolBatch, scores: np.ndarray, status: list[str], model: _ModelInfo,
                 fpr: float, fields: list[pa.Field], schema: pa.Schema,
                 keep_molblocks: bool) -> pa.Table:
    n = len(batch)
    df = batch.columns
    arrays = []
    for f in fields:
        if f.name in df.columns:
            arrays.append(pa.Array.from_pandas(df[f.name], type=f.type))
        else:
            arrays.append(pa.nulls(n, f.type))
    ok = ~np.isnan(scores)
    pvalues = model.pvalues(scores)
    arrays.append(pa.array(scores, type=pa.float64(), mask=~ok))
    arrays.append(pa.array(pvalues, type=pa.float64(), mask=~ok))
    arrays.append(pa.array(_flags(pvalues, fpr), type=pa.bool_(), mask=~ok))
    arrays.append(pa.array(status, type=pa.string()))
    if keep_molblocks:
        arrays.append(pa.array(batch.molblocks, type=pa.string()))
    return pa.Table.from_arrays(arrays, schema=schema)


def _table_stats(t: pa.Table) -> tuple[int, int, int]:
    """(rows, scored, flagged) of a chunk table."""
    import pyarrow.compute as pc

    flagged = pc.sum(t.column(IS_OOD_COLUMN)).as_py() or 0
    return t.num_rows, t.num_rows - t.column(SCORE_COLUMN).null_count, int(flagged)


# =============================================================================== work dir
def work_dir_for(output: str | os.PathLike) -> Path:
    """Where :func:`screen` keeps finished chunks of ``output`` until the run completes."""
    return Path(os.fspath(output) + ".molood-parts")


def _part_path(wd: Path, k: int) -> Path:
    return wd / f"chunk-{k:08d}.parquet"


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _write_part(wd: Path, k: int, table: pa.Table) -> None:
    import pyarrow.parquet as pq

    _write_atomic(_part_path(wd, k), lambda fh: pq.write_table(table, fh))


def _done_chunks(wd: Path, chunk_size: int) -> int:
    """Finished chunks 0..k-1 (readable, full-size except possibly the last)."""
    import pyarrow.parquet as pq

    k = 0
    while True:
        p = _part_path(wd, k)
        if not p.exists():
            return k
        try:
            rows = pq.read_metadata(p).num_rows
        except Exception:  # noqa: BLE001 - an unreadable part is simply redone
            return k
        k += 1
        if rows != chunk_size:  # the short last chunk: nothing can follow it
            return k


def _prepare_work_dir(wd: Path, state: dict[str, Any], resume: bool,
                      batch_size: int | None) -> tuple[int, int]:
    """(chunk size, finished chunks) after checking/creating the work directory."""
    chunk = int(batch_size or DEFAULT_BATCH_SIZE)
    old = None
    state_file = wd / "state.json"
    if wd.exists() and state_file.exists():
        try:
            old = json.loads(state_file.read_text())
        except (OSError, ValueError):
            old = None
    if resume and old is not None:
        if batch_size is None:
            chunk = int(old.get("chunk_size", chunk))
        want = dict(state, chunk_size=chunk)
        diff = [k for k in sorted(set(want) | set(old)) if want.get(k) != old.get(k)]
        if diff:
            detail = "; ".join(f"{k}: was {old.get(k)!r}, now {want.get(k)!r}" for k in diff)
            raise MoloodResumeError(
                f"cannot resume: the interrupted run in {wd} was made with different settings "
                f"({detail}). Rerun without --resume to start over")
        for tmp in wd.glob("*.tmp"):
            tmp.unlink()
        done = _done_chunks(wd, chunk)
        logger.info("resuming: %d finished chunks of %d rows in %s", done, chunk, wd)
        return chunk, done
    if wd.exists():
        if old is not None and not resume:
            logger.warning("discarding the finished chunks of an interrupted run in %s "
                           "(use --resume to continue it instead)", wd)
        shutil.rmtree(wd)
    elif resume:
        logger.info("nothing to resume (no %s); starting from the beginning", wd)
    wd.mkdir(parents=True)
    payload = json.dumps(dict(state, chunk_size=chunk), indent=1, sort_keys=True).encode()
    _write_atomic(state_file, lambda fh: fh.write(payload))
    return chunk, 0


# =============================================================================== engine
class _Progress:
    def __init__(self, enabled: bool, total: int | None, initial: int) -> None:
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="mol", unit_scale=True,
                            file=sys.stderr, dynamic_ncols=True, smoothing=0.05,
                            desc="molood screen")

    def update(self, n: int, flagged: int, invalid: int) -> None:
        if self.bar is not None:
            self.bar.set_postfix(flagged=flagged, invalid=invalid, refresh=False)
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _sigterm_as_interrupt:
    """SIGTERM (e.g. a batch scheduler's kill) takes the Ctrl-C path: parts kept, exit 130."""

    def __enter__(self) -> None:
        self.old = None
        if threading.current_thread() is threading.main_thread():
            self.old = signal.signal(signal.SIGTERM, self._raise)

    @staticmethod
    def _raise(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    def __exit__(self, *exc: Any) -> None:
        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)


def screen(input: str | os.PathLike, output: str | os.PathLike, *,
           model: "str | os.PathLike | SEGODetector | None" = None, smiles_col: str | None = None,
           workers: int | None = 1, batch_size: int | None = None, fpr: float = 0.05,
           resume: bool = False, progress: bool = False) -> ScreenSummary:
    """Screen a library file and write the scored rows to ``output`` (see the module docstring).

    Parameters
    ----------
    input : path
        ``.parquet``, ``.csv``/``.tsv`` (optionally ``.gz``), ``.smi`` or ``.sdf`` (optionally
        ``.gz``).
    output : path
        ``.parquet`` (scores + run metadata in the key-value metadata), ``.csv``/``.tsv``
        (optionally ``.gz``) or ``.sdf`` (scores as SD properties).
    model : path or SEGODetector, optional
        Model file or fitted detector; default the bundled model. Featurizer settings
        (``largest_fragment``) come from the model.
    smiles_col : str, optional
        SMILES column of a table; default the first of ``smiles``, ``canonical_smiles``,
        ``mol`` (any case).
    workers : int, default 1
        Processes for parsing, featurizing and scoring (-1 = all cores; 1 = in this process).
    batch_size : int, optional
        Rows per chunk (default 10,000; on resume, the interrupted run's).
    fpr : float, default 0.05
        ID false-positive rate that sets ``molood_is_ood``.
    resume : bool, default False
        Continue an interrupted run of the same input/model/options into the same output.
    progress : bool, default False
        tqdm progress bar on stderr.

    Returns
    -------
    ScreenSummary

    Raises
    ------
    FileNotFoundError
        Missing input or model file.
    MoloodInputError
        Unknown input/output format, missing SMILES column.
    molood.persist.MoloodModelError
        The model file is not a valid molood model.
    MoloodResumeError
        ``resume=True`` with different settings than the interrupted run.
    KeyboardInterrupt
        Ctrl-C or SIGTERM: finished chunks stay in :func:`work_dir_for` ``(output)`` for
        ``resume=True``; nothing is written at ``output``.

    Examples
    --------
    >>> import molood
    >>> summary = molood.screen("library.csv.gz", "scores.parquet", workers=2)  # doctest: +SKIP
    >>> print(summary)  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    input, output = os.fspath(input), os.fspath(output)
    fpr = _check_fpr(fpr)
    if batch_size is not None and int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    detect_format(input)
    out_fmt = detect_format(output)
    if out_fmt == "smi":
        raise MoloodInputError(f"{output!r}: cannot write .smi; use .parquet, .csv or .sdf")
    if not os.path.isfile(input):
        raise FileNotFoundError(f"input file not found: {input}")
    if os.path.abspath(input) == os.path.abspath(output):
        raise MoloodInputError(f"{output!r}: output must differ from the input")
    out_dir = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(out_dir):
        raise FileNotFoundError(f"output directory does not exist: {out_dir}")
    n_workers = resolve_n_jobs(workers)

    with tempfile.TemporaryDirectory(prefix="molood-") as tmpdir:
        info = _model_info(model, tmpdir, check_versions=n_workers > 1)
        plan = _plan(input, smiles_col, want_count=progress)
        keep_blocks = plan.fmt == "sdf" and out_fmt == "sdf"
        fields = [f for f in plan.fields if f.name not in OUTPUT_COLUMNS]
        if len(fields) < len(plan.fields):
            logger.warning("%s already has molood result columns; they are replaced", input)
        out_schema = pa.schema(fields + _RESULT_FIELDS)
        part_schema = out_schema.append(pa.field(_MOLBLOCK_COLUMN, pa.string())) \
            if keep_blocks else out_schema
        threshold = info.threshold(fpr)
        st = os.stat(input)
        import molood

        state = {"state_version": _STATE_VERSION, "molood_version": molood.__version__,
                 "input": os.path.abspath(input), "input_size": st.st_size,
                 "input_mtime_ns": st.st_mtime_ns, "model_sha256": info.sha256,
                 "smiles_col": plan.smiles_col, "fpr": fpr, "keep_molblocks": keep_blocks}
        wd = work_dir_for(output)
        chunk, done = _prepare_work_dir(wd, state, resume, batch_size)
        metadata = {"molood_version": molood.__version__, "molood_model_path": info.label,
                    "molood_model_sha256": info.sha256, "molood_fpr": repr(fpr),
                    "molood_threshold": repr(threshold),
                    "molood_input": os.path.basename(input)}
        rows = scored = flagged = resumed = 0
        k = done
        writer = None
        bar = _Progress(progress, plan.rows, 0)

        def emit(table: pa.Table) -> None:
            nonlocal rows, scored, flagged
            r, s, f = _table_stats(table)
            rows, scored, flagged = rows + r, scored + s, flagged + f
            blocks = None
            if keep_blocks:
                blocks = table.column(_MOLBLOCK_COLUMN).to_pylist()
                table = table.drop_columns([_MOLBLOCK_COLUMN])
            writer.write(table.to_pandas(types_mapper=pd.ArrowDtype), molblocks=blocks)
            bar.update(r, flagged, rows - scored)

        try:
            with _sigterm_as_interrupt():
                import pyarrow.parquet as pq

                writer = open_writer(output, columns=out_schema.names, metadata=metadata,
                                     schema=out_schema, smiles_col=plan.smiles_col)
                for j in range(done):
                    emit(pq.read_table(_part_path(wd, j), schema=part_schema))
                resumed = rows
                batches = _batches(input, plan, chunk, done * chunk)
                serial = n_workers == 1
                results = iter(ordered_map(
                    _score_job, batches.tasks(), n_workers, initializer=_init_scorer,
                    initargs=(info.path, info.detector if serial else None, not serial)))
                for first in results:
                    batch = batches.popleft()
                    got = [first] + [next(results) for _ in range(_n_tasks(len(batch)) - 1)]
                    scores = np.concatenate([sc for sc, _ in got])
                    status = [x for _, st in got for x in st]
                    table = _chunk_table(batch, scores, status, info, fpr, fields, part_schema,
                                         keep_blocks)
                    _write_part(wd, k, table)
                    k += 1
                    emit(table)
                writer.close()
        except BaseException:
            if writer is not None:
                writer.abort()
            bar.close()
            if k == 0:
                shutil.rmtree(wd, ignore_errors=True)  # nothing worth resuming
            else:
                logger.warning("%d finished chunks of %d rows are kept in %s; rerun with "
                               "resume=True (--resume) to continue", k, chunk, wd)
            raise
        bar.close()
        shutil.rmtree(wd, ignore_errors=True)
    return ScreenSummary(input=input, output=output, rows=rows, scored=scored,
                         invalid=rows - scored, flagged=flagged,
                         seconds=time.perf_counter() - t0, resumed_rows=resumed, fpr=fpr,
                         threshold=threshold, model_path=info.label, model_sha256=info.sha256,
                         workers=n_workers, batch_size=chunk)


TASK_ROWS = 2_500
"""Rows per worker task: chunks are split so that a few chunks already keep every worker busy
(a multiple of :data:`GRAPH_BLOCK`, so the 250-row blocks stay where they are)."""


def _n_tasks(rows: int) -> int:
    return max(1, -(-rows // TASK_ROWS))


class _batches:
    """The input's chunks, handed out as worker tasks; a chunk is held until its results are in."""

    def __init__(self, path: str, plan: _Plan, chunk: int, start_row: int) -> None:
        from molood.io import read_batches

        self._it = read_batches(path, plan.smiles_col if plan.fmt != "sdf" else None, chunk,
                                start_row, infer_types=False)
        self._held: deque[MolBatch] = deque()

    def tasks(self) -> Iterator[tuple[list, str]]:
        for b in self._it:
            self._held.append(b)
            inputs = b.inputs
            for s in range(0, len(b), TASK_ROWS):
                yield inputs[s:s + TASK_ROWS], b.kind

    def popleft(self) -> MolBatch:
        return self._held.popleft()


# =============================================================================== training
def train_file(input: str | os.PathLike, output: str | os.PathLike, *,
               smiles_col: str | None = None, **params: Any) -> "SEGODetector":
    """Fit a :class:`~molood.detector.SEGODetector` on a library file and save it.

    Unparseable rows are skipped with a warning unless ``on_invalid="raise"`` is passed.
    ``params`` go to the detector (``epochs``, ``seed``, ``mode``, ``alpha``, ...).
    """
    from molood.detector import SEGODetector
    from molood.io import read_batches

    params.setdefault("on_invalid", "skip")
    det = SEGODetector(**params)
    det._validate_params()
    items: list[Any] = []
    for b in read_batches(input, smiles_col, batch_size=50_000, infer_types=False):
        if b.kind == "molblock":
            from molood._rdkit import parse_molblock

            items.extend(parse_molblock(x)[0] for x in b.molblocks or [])
        else:
            items.extend(b.smiles)
    if not items:
        raise MoloodInputError(f"{os.fspath(input)}: no rows to train on")
    det.fit(items)
    det.save(output)
    return det
