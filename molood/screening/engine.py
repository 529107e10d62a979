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
float32 embeddings and float64 losses): bit for bit the same for any ``workers`` and
``batch_size``, and :func:`~molood.screening.scoring.score_frame` (the ``DataFrame.molood`` accessor)
gives the same bits as :func:`screen`.

Crash safety and ``resume``: every finished chunk is first written atomically (temp file,
fsync, ``os.replace``) as a Parquet part in ``<output>.molood-parts/`` together with a
``state.json`` describing the run (input path/size/mtime, model SHA-256, chunk size, options;
:mod:`molood.screening.workdir`);
the output itself is streamed into ``<output>.part`` and moved into place only when the run is
complete, after which the work directory is removed. An interrupted run (Ctrl-C, SIGTERM,
SIGKILL, power loss) therefore never leaves a partial file at ``output``, and
``resume=True`` replays the finished parts and continues after the last one; its output is
byte-for-byte the output of an uninterrupted run.

CSV/TSV columns are carried through as text, exactly as in the input (a column whose values
change type half-way through a large file cannot break a long run); Parquet columns keep their
Arrow types; SD-file properties are text.

This module is the engine: it plans the input, streams chunks to the scorers of
:mod:`molood.screening.scoring` (in-process or in worker processes) and assembles the output.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from molood._parallel import SCORER_PRELOAD, ordered_map, resolve_n_jobs, start_forkserver
from molood.screening.columns import (
    IS_OOD_COLUMN,
    OUTPUT_COLUMNS,
    PVALUE_COLUMN,
    SCORE_COLUMN,
    STATUS_COLUMN,
)
from molood.exceptions import MoloodInputError
from molood.io import MolBatch, detect_format, find_smiles_column, open_writer
from molood.screening.scoring import (
    DEFAULT_BATCH_SIZE,
    _init_scorer,
    _model_info,
    _ModelInfo,
    _score_job,
)
from molood.detectors.calibration import check_fpr, ood_flags
from molood.screening.workdir import prepare_work_dir, read_part, work_dir_for, write_part

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.sego.detector import SEGODetector

__all__ = ["screen", "train_file", "ScreenSummary"]

logger = logging.getLogger(__name__)

_MOLBLOCK_COLUMN = "__molood_molblock"  # SD in -> SD out: the record's structure, parts only

_RESULT_FIELDS = [pa.field(SCORE_COLUMN, pa.float64()), pa.field(PVALUE_COLUMN, pa.float64()),
                  pa.field(IS_OOD_COLUMN, pa.bool_()), pa.field(STATUS_COLUMN, pa.string())]


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
    from molood.io.readers import read_batches

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
    arrays.append(pa.array(ood_flags(pvalues, fpr), type=pa.bool_(), mask=~ok))
    arrays.append(pa.array(status, type=pa.string()))
    if keep_molblocks:
        arrays.append(pa.array(batch.molblocks, type=pa.string()))
    return pa.Table.from_arrays(arrays, schema=schema)


def _table_stats(t: pa.Table) -> tuple[int, int, int]:
    """(rows, scored, flagged) of a chunk table."""
    import pyarrow.compute as pc

    flagged = pc.sum(t.column(IS_OOD_COLUMN)).as_py() or 0
    return t.num_rows, t.num_rows - t.column(SCORE_COLUMN).null_count, int(flagged)



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
    molood.screening.workdir.MoloodResumeError
        ``resume=True`` with different settings than the interrupted run.
    KeyboardInterrupt
        Ctrl-C or SIGTERM: finished chunks stay in
        :func:`~molood.screening.workdir.work_dir_for` ``(output)`` for
        ``resume=True``; nothing is written at ``output``.

    Examples
    --------
    >>> import molood
    >>> summary = molood.screen("library.csv.gz", "scores.parquet", workers=2)  # doctest: +SKIP
    >>> print(summary)  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    input, output = os.fspath(input), os.fspath(output)
    fpr = check_fpr(fpr)
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
    if n_workers > 1:
        start_forkserver(SCORER_PRELOAD)  # its imports overlap with reading model and input

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

        state = {"molood_version": molood.__version__,
                 "input": os.path.abspath(input), "input_size": st.st_size,
                 "input_mtime_ns": st.st_mtime_ns, "model_sha256": info.sha256,
                 "smiles_col": plan.smiles_col, "fpr": fpr, "keep_molblocks": keep_blocks}
        wd = work_dir_for(output)
        chunk, done = prepare_work_dir(wd, state, resume, batch_size, DEFAULT_BATCH_SIZE)
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
                writer = open_writer(output, columns=out_schema.names, metadata=metadata,
                                     schema=out_schema, smiles_col=plan.smiles_col)
                for j in range(done):
                    emit(read_part(wd, j, part_schema))
                resumed = rows
                batches = _batches(input, plan, chunk, done * chunk)
                serial = n_workers == 1
                results = iter(ordered_map(
                    _score_job, batches.tasks(), n_workers, initializer=_init_scorer,
                    initargs=(info.path, info.detector if serial else None, not serial),
                    preload=SCORER_PRELOAD))
                for first in results:
                    batch = batches.popleft()
                    got = [first] + [next(results) for _ in range(_n_tasks(len(batch)) - 1)]
                    scores = np.concatenate([sc for sc, _ in got])
                    status = [x for _, st in got for x in st]
                    table = _chunk_table(batch, scores, status, info, fpr, fields, part_schema,
                                         keep_blocks)
                    write_part(wd, k, table)
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
(a multiple of :data:`~molood.screening.scoring.GRAPH_BLOCK`, so no forward pass is short)."""


def _n_tasks(rows: int) -> int:
    return max(1, -(-rows // TASK_ROWS))


class _batches:
    """The input's chunks, handed out as worker tasks; a chunk is held until its results are in."""

    def __init__(self, path: str, plan: _Plan, chunk: int, start_row: int) -> None:
        from molood.io.readers import read_batches

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
    """Fit a :class:`~molood.detectors.sego.detector.SEGODetector` on a library file and save it.

    Unparseable rows are skipped with a warning unless ``on_invalid="raise"`` is passed.
    ``params`` go to the detector (``epochs``, ``seed``, ``mode``, ``alpha``, ...).
    """
    from molood.detectors.sego.detector import SEGODetector
    from molood.io.readers import read_batches

    params.setdefault("on_invalid", "skip")
    det = SEGODetector(**params)
    det._validate_params()
    items: list[Any] = []
    for b in read_batches(input, smiles_col, batch_size=50_000, infer_types=False):
        if b.kind == "molblock":
            from molood.chem.parse import parse_molblock

            items.extend(parse_molblock(x)[0] for x in b.molblocks or [])
        else:
            items.extend(b.smiles)
    if not items:
        raise MoloodInputError(f"{os.fspath(input)}: no rows to train on")
    det.fit(items)
    det.save(output)
    return det
