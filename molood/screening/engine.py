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
    scored. ``fpr`` defaults to the model's own (the one it was fitted with, stored in the
    model file); the one used is recorded in the output metadata and the summary.
``molood_status``
    ``"ok"`` or why the row was not scored (``"empty"``, ``"invalid_smiles: <RDKit message>"``,
    ``"sdf_parse_error: <RDKit message>"``, ``"too_large: N atoms (max_atoms=M)"``).
``molood_smiles``
    the standardised, canonical SMILES the row was scored as (``smiles_column=False``: left
    out).

Scores depend on the molecule and the model only, never on ``workers``, ``batch_size`` or the
other molecules of a chunk (the detector scores against a fixed bank, with row-independent
float32 embeddings and float64 losses): bit for bit the same for any ``workers`` and
``batch_size``, and :func:`~molood.screening.scoring.score_frame` (the ``DataFrame.molood``
accessor) gives the same bits as :func:`screen`.

An SD file screened into a table (Parquet/CSV/TSV) also gets a column with each record's
canonical RDKit SMILES (``smiles``, or ``rdkit_smiles`` if the records have a ``smiles``
property), and ``id_col`` chooses the column that identifies the rows (first column): see
:mod:`.plan`. A Parquet input written by pandas keeps its ``pandas`` metadata (extended with the
added columns), so ``pd.read_parquet`` of the output restores its index.

A damaged input (truncated or corrupt ``.gz`` data, a corrupt Parquet file) raises
:class:`~molood.exceptions.MoloodInputError` naming it; damage found half-way through leaves the
chunks finished before it resumable and no output, like any other failure.

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

This module is the engine, a sequence of small steps: check the arguments, describe the run
(:mod:`.models`, :mod:`.plan`, :mod:`.output`), prepare the work directory (:mod:`.workdir`),
then stream chunks to the scorers of :mod:`.worker` (in-process or in worker processes) and
their parts into the output (:class:`~molood.screening.output.ResultWriter`).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from collections import deque
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pandas as pd
import pyarrow as pa

from molood._parallel import ordered_map, resolve_n_jobs, start_forkserver
from molood.chem.limits import DEFAULT_MAX_ATOMS, check_max_atoms
from molood.detectors.calibration import check_fpr, fpr_resolution_message
from molood.exceptions import MoloodInputError, Terminated
from molood.io.formats import detect_format, detect_output_format
from molood.io.readers import MolBatch, read_batches
from molood.screening.columns import STATUS_COLUMN
from molood.screening.models import ModelInfo, model_info, scorer_preload
from molood.screening.output import ResultWriter, chunk_table, output_schemas
from molood.screening.plan import InputPlan, pandas_metadata, plan_input
from molood.screening.progress import Progress
from molood.screening.scoring import DEFAULT_BATCH_SIZE, ScoredRows
from molood.screening.structures import score_job_with_smiles
from molood.screening.summary import ScreenSummary, count_statuses, plural
from molood.screening.workdir import prepare_work_dir, read_part, work_dir_for, write_part
from molood.screening.worker import init_scorer, score_job

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.sego.detector import SEGODetector

__all__ = ["screen", "check_arguments", "ScreenSummary", "TASK_ROWS"]

logger = logging.getLogger(__name__)

TASK_ROWS = 2_500
"""Rows per worker task: chunks are split so that a few chunks already keep every worker busy
(a multiple of :data:`~molood.screening.scoring.GRAPH_BLOCK`, so no forward pass is short)."""


def screen(input: str | os.PathLike, output: str | os.PathLike, *,
           model: "str | os.PathLike | SEGODetector | None" = None, smiles_col: str | None = None,
           workers: int | None = 1, batch_size: int | None = None, fpr: float | None = None,
           resume: bool = False, progress: bool = False, id_col: str | None = None,
           max_atoms: int | None = DEFAULT_MAX_ATOMS, smiles_column: bool = True
           ) -> ScreenSummary:
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
    fpr : float, optional
        ID false-positive rate that sets ``molood_is_ood``; default the model's own (its
        ``fpr_``, the ``calibration.fpr`` of a model file's manifest).
    resume : bool, default False
        Continue an interrupted run of the same input/model/options into the same output.
    progress : bool, default False
        Progress on stderr: a tqdm bar on a terminal, else a plain line every 30 s
        (:mod:`molood.screening.progress`).
    id_col : str, optional
        The column that identifies the rows, written first: for an SD file an SD property of
        that name, else the title line under that name (instead of ``_Name``); for a SMILES
        file the name field; for a table an existing column (:mod:`molood.screening.plan`).
    max_atoms : int or None, default 1000
        Rows with more atoms get no score and the status ``too_large: N atoms (max_atoms=M)``
        (:data:`~molood.chem.limits.DEFAULT_MAX_ATOMS`); None or 0: no cap.
    smiles_column : bool, default True
        Write ``molood_smiles``, the standardised canonical SMILES each row was scored as.

    Returns
    -------
    ScreenSummary

    Raises
    ------
    FileNotFoundError
        Missing input or model file.
    MoloodInputError
        Unknown input/output format (SMILES files are input only), missing SMILES or ID
        column, an empty (0-byte) CSV/TSV file, a damaged input file (named in the message).
    molood.persist.MoloodModelError
        The model file is not a valid molood model.
    molood.screening.workdir.MoloodResumeError
        ``resume=True`` with different settings than the interrupted run.
    KeyboardInterrupt
        Ctrl-C, or SIGTERM (as :class:`~molood.exceptions.Terminated`, with ``signum``):
        finished chunks stay in
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
    check_arguments(input, output, fpr, batch_size)
    max_atoms = check_max_atoms(max_atoms)
    n_workers = resolve_n_jobs(workers)
    preload = scorer_preload(model)
    if n_workers > 1:
        start_forkserver(preload)  # its imports overlap with reading model and input
    with tempfile.TemporaryDirectory(prefix="molood-") as tmpdir:
        info = model_info(model, tmpdir, check_versions=n_workers > 1)
        run = _describe_run(input, output, info, smiles_col, fpr, id_col, want_count=progress,
                            max_atoms=max_atoms, smiles_column=smiles_column)
        wd = work_dir_for(output)
        chunk, done = prepare_work_dir(wd, run.state, resume, batch_size, DEFAULT_BATCH_SIZE)
        out, resumed, counts = _write_output(run, wd, chunk, done, n_workers, progress,
                                             preload)
        shutil.rmtree(wd, ignore_errors=True)
    return ScreenSummary(input=input, output=output, rows=out.rows, scored=out.scored,
                         invalid=out.rows - out.scored, flagged=out.flagged,
                         seconds=time.perf_counter() - t0, resumed_rows=resumed, fpr=run.fpr,
                         threshold=run.threshold, model_path=info.label,
                         model_sha256=info.sha256, workers=n_workers, batch_size=chunk,
                         status_counts=dict(sorted(counts.items(), key=lambda kv: -kv[1])))


def check_arguments(input: str, output: str, fpr: float | None, batch_size: int | None
                    ) -> None:
    """Everything that can be refused before a model or the input is read."""
    if fpr is not None:
        check_fpr(fpr)
    if batch_size is not None and int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    detect_format(input)
    detect_output_format(output)
    if not os.path.isfile(input):
        raise FileNotFoundError(f"input file not found: {input}")
    if os.path.abspath(input) == os.path.abspath(output):
        raise MoloodInputError(f"{output!r}: output must differ from the input")
    out_dir = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(out_dir):
        raise FileNotFoundError(f"output directory does not exist: {out_dir}")


@dataclass(frozen=True)
class _Run:
    """What is fixed about a run before its first chunk."""

    input: str
    output: str
    plan: InputPlan
    info: ModelInfo
    fpr: float
    threshold: float
    fields: list[pa.Field]  # input columns carried to the output
    out_schema: pa.Schema
    part_schema: pa.Schema  # out_schema, plus the mol blocks for SD -> SD
    state: dict[str, Any]  # what a resumed run must match (state.json)
    metadata: dict[str, str]  # the output's key-value metadata


def _describe_run(input: str, output: str, info: ModelInfo, smiles_col: str | None,
                  fpr: float | None, id_col: str | None, want_count: bool,
                  max_atoms: int | None = DEFAULT_MAX_ATOMS, smiles_column: bool = True) -> _Run:
    """Resolve the fpr (None: the model's), plan the input and fix the output's columns,
    the state a resume must match and the output metadata."""
    import molood

    fpr = check_fpr(info.fpr if fpr is None else fpr)
    if (msg := fpr_resolution_message(info.cal_scores.size, fpr)) is not None:
        logger.warning("%s", msg)
    sd_out = detect_format(output) == "sdf"
    plan = plan_input(input, smiles_col, want_count, id_col=id_col, table_output=not sd_out)
    keep_blocks = plan.fmt == "sdf" and sd_out
    fields, out_schema, part_schema = output_schemas(plan.fields, keep_blocks, input,
                                                     smiles_column, info.evidence)
    threshold = info.threshold(fpr)
    st = os.stat(input)
    state = {"molood_version": molood.__version__,
             "input": os.path.abspath(input), "input_size": st.st_size,
             "input_mtime_ns": st.st_mtime_ns, "model_sha256": info.sha256,
             "smiles_col": plan.smiles_col, "fpr": fpr, "keep_molblocks": keep_blocks,
             "id_col": plan.id_col, "structure_smiles": plan.structure_smiles,
             "max_atoms": max_atoms, "smiles_column": smiles_column}
    metadata = {"molood_version": molood.__version__, "molood_model_path": info.label,
                "molood_model_sha256": info.sha256, "molood_fpr": repr(fpr),
                "molood_threshold": repr(threshold), "molood_input": os.path.basename(input)}
    pandas = pandas_metadata(plan.pandas, [f.name for f in fields], out_schema)
    if pandas is not None:
        metadata["pandas"] = pandas
    return _Run(input, output, plan, info, fpr, threshold, fields, out_schema, part_schema,
                state, metadata)


def _write_output(run: _Run, wd: Path, chunk: int, done: int, n_workers: int,
                  progress: bool, preload: tuple[str, ...]
                  ) -> tuple[ResultWriter, int, dict[str, int]]:
    """Replay the ``done`` finished parts, then score and write the rest of the input, each
    new chunk first as a part of the work directory. Returns the finished output writer, the
    number of rows replayed and the rows per status class. On any error the output is
    discarded and the finished parts are kept for ``resume`` (see :func:`_keep_for_resume`)."""
    out = None
    finished = done
    counts: dict[str, int] = {}
    bar = Progress(progress, run.plan.rows)

    def write(table: pa.Table) -> None:
        out.write(table)
        bar.update(out.rows, out.flagged, out.rows - out.scored)
        count_statuses(table.column(STATUS_COLUMN), counts)

    try:
        with _sigterm_as_interrupt():
            out = ResultWriter(run.output, run.out_schema, run.metadata, run.plan.smiles_col)
            for k in range(done):
                write(read_part(wd, k, run.part_schema))
            resumed = out.rows
            with closing(_scored_chunks(run, chunk, done * chunk, n_workers,
                                        preload)) as tables:
                for table in tables:
                    write_part(wd, finished, table)
                    finished += 1
                    write(table)
            out.close()
    except BaseException:
        if out is not None:
            out.abort()
        _keep_for_resume(wd, finished, chunk)
        raise
    finally:
        bar.close()
    return out, resumed, counts


def _keep_for_resume(wd: Path, finished: int, chunk: int) -> None:
    if finished == 0:
        shutil.rmtree(wd, ignore_errors=True)  # nothing worth resuming
    else:
        logger.warning("%s of %s are kept in %s; to continue, run the same command again "
                       "with --resume (Python: resume=True)", plural(finished, "finished chunk"),
                       plural(chunk, "row"), wd)


def _scored_chunks(run: _Run, chunk: int, start_row: int, n_workers: int,
                   preload: tuple[str, ...]) -> Iterator[pa.Table]:
    """The input from ``start_row`` on, scored, as part tables of ``chunk`` rows, in order
    (workers forked from a server that imported ``preload``)."""
    chunks = _Chunks(run.input, run.plan, chunk, start_row)
    serial = n_workers == 1
    structure = run.plan.structure_smiles
    results = iter(ordered_map(
        score_job_with_smiles if structure else score_job, chunks.tasks(), n_workers,
        initializer=init_scorer,
        initargs=(run.info.path, run.info.detector if serial else None, not serial,
                  run.state["max_atoms"], run.state["smiles_column"], run.fpr),
        preload=preload))
    for first in results:
        batch = chunks.popleft()
        got = [first] + [next(results) for _ in range(_n_tasks(len(batch)) - 1)]
        if structure:  # (ScoredRows, the records' SMILES) per task
            rows = ScoredRows.concat([r[0] for r in got])
            structures = [x for r in got for x in r[1]]
        else:
            rows = ScoredRows.concat(got)
        columns = batch.columns.rename(columns=run.plan.renames)
        if structure:
            columns[structure] = pd.Series(structures, dtype=object)
        batch = replace(batch, columns=columns)
        yield chunk_table(batch, rows, run.info, run.fpr, run.fields,
                          run.part_schema)


def _n_tasks(rows: int) -> int:
    return max(1, -(-rows // TASK_ROWS))


class _Chunks:
    """The input's chunks, handed out as worker tasks; a chunk is held until its results are in."""

    def __init__(self, path: str, plan: InputPlan, chunk: int, start_row: int) -> None:
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


class _sigterm_as_interrupt:
    """SIGTERM (e.g. a batch scheduler's kill) takes the Ctrl-C path (parts kept) as
    :class:`~molood.exceptions.Terminated`, so that the command line exits with 143."""

    def __enter__(self) -> None:
        self.old = None
        if threading.current_thread() is threading.main_thread():
            self.old = signal.signal(signal.SIGTERM, self._raise)

    @staticmethod
    def _raise(signum: int, frame: Any) -> None:
        raise Terminated(signum)

    def __exit__(self, *exc: Any) -> None:
        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)
