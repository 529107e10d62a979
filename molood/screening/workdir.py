"""The resumable work directory of a :func:`~molood.screening.engine.screen` run.

Every finished chunk of ``<output>`` is written atomically (temp file, fsync, ``os.replace``) as
a Parquet part ``chunk-<k>.parquet`` in ``<output>.molood-parts/``, next to a ``state.json``
that describes the run. A resumed run must match that state; it replays the readable parts and
continues after the last full one. The on-disk layout and its checks live here, apart from the
engine that fills the directory.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from molood._fs import PART_SUFFIX, atomic_path, remove_part, write_text_atomic
from molood.exceptions import MoloodResumeError
from molood.screening.summary import plural

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

__all__ = [
    "MoloodResumeError",
    "work_dir_for",
    "prepare_work_dir",
    "read_part",
    "write_part",
    "STATE_VERSION",
]

logger = logging.getLogger(__name__)

STATE_VERSION = 1
"""Version of the ``state.json`` layout; part of the state a resumed run must match."""


def work_dir_for(output: str | os.PathLike) -> Path:
    """Where :func:`~molood.screening.engine.screen` keeps the finished chunks of ``output`` until
    the run completes."""
    return Path(os.fspath(output) + ".molood-parts")


def _chunk_path(wd: Path, k: int) -> Path:
    return wd / f"chunk-{k:08d}.parquet"


def read_part(wd: Path, k: int, schema: pa.Schema) -> pa.Table:
    """Finished chunk ``k`` (as written by :func:`write_part`), read with ``schema``."""
    import pyarrow.parquet as pq

    return pq.read_table(_chunk_path(wd, k), schema=schema)


def write_part(wd: Path, k: int, table: pa.Table) -> None:
    """Write finished chunk ``k`` atomically (a killed run leaves no half-written part)."""
    import pyarrow.parquet as pq

    with atomic_path(_chunk_path(wd, k)) as tmp:
        pq.write_table(table, tmp)


def _done_chunks(wd: Path, chunk_size: int) -> int:
    """Finished chunks 0..k-1 (readable, full-size except possibly the last)."""
    import pyarrow.parquet as pq

    k = 0
    while True:
        p = _chunk_path(wd, k)
        if not p.exists():
            return k
        try:
            rows = pq.read_metadata(p).num_rows
        except Exception:  # noqa: BLE001 - an unreadable part is simply redone
            return k
        k += 1
        if rows != chunk_size:  # the short last chunk: nothing can follow it
            return k


def prepare_work_dir(wd: Path, state: dict[str, Any], resume: bool, batch_size: int | None,
                     default_batch_size: int) -> tuple[int, int]:
    """(chunk size, finished chunks) after checking/creating the work directory.

    ``state`` describes the run (JSON-able; ``state_version`` is added here): resuming needs
    the same state. ``batch_size`` None means the interrupted run's chunk size when resuming,
    else ``default_batch_size``.
    """
    state = dict(state, state_version=STATE_VERSION)
    chunk = int(batch_size or default_batch_size)
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
                f"({detail}). Run again without --resume (Python: resume=False) to start over")
        for tmp in wd.glob("*" + PART_SUFFIX):
            remove_part(tmp)
        done = _done_chunks(wd, chunk)
        logger.info("resuming: %s of %s in %s", plural(done, "finished chunk"),
                    plural(chunk, "row"), wd)
        return chunk, done
    if wd.exists():
        if old is not None and not resume:
            logger.warning("discarding the finished chunks of an interrupted run in %s "
                           "(run with --resume, Python: resume=True, to continue it instead)",
                           wd)
        shutil.rmtree(wd)
    elif resume:
        logger.info("nothing to resume (no %s); starting from the beginning", wd)
    wd.mkdir(parents=True)
    write_text_atomic(state_file, json.dumps(dict(state, chunk_size=chunk), indent=1,
                                             sort_keys=True))
    return chunk, 0
