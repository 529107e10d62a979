"""Ordered, bounded process-parallel map: molood's one parallelism helper for streaming work.

``ordered_map(fn, items, n_jobs)`` yields ``fn(*item)`` in input order. With ``n_jobs`` 0/1/None
it runs in-process (no pool, no pickling). Otherwise it uses a process pool, keeps at most
``max_in_flight`` items submitted at once (so a huge stream never piles up in memory, unlike
``Pool.imap``, whose feeder thread drains the whole input iterator), and consumes ``items``
lazily.

Workers come from a ``forkserver`` on Linux, else from ``spawn`` (on macOS, forking a process
that has loaded system frameworks is unsafe); never from a plain ``fork`` of the caller (a
forked child of a process that already ran torch can deadlock in OpenMP). The fork server
imports the ``preload`` modules once (torch, RDKit and the scorer: ~1.4 s) and then forks every
worker ready-made, instead of each spawned worker importing them again; :func:`start_forkserver`
starts it early, so that the imports overlap with the caller's own start-up.

Workers ignore SIGINT (Ctrl-C is handled once, in the parent, which then terminates them) and
exit on their own when the process that asked for them dies (SIGKILL, power loss of the parent
is not a concern), so they never outlive an interrupted run.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Callable, Iterable, Iterator, Sequence

__all__ = ["resolve_n_jobs", "ordered_map", "start_forkserver", "SCORER_PRELOAD",
           "MOLECULE_SCORER_PRELOAD", "WORKER_ENV"]

WORKER_ENV = "MOLOOD_WORKER_PROCESS"
"""Set to "1" in the fork server's environment, hence in every worker it forks: ``import
molood`` there does not register the ``DataFrame.molood`` accessor, which would import pandas
(~0.2 s of a worker's start, on the critical path of a screen; workers never use it)."""

SCORER_PRELOAD = ("numpy", "torch", "rdkit.Chem", "molood.chem.features",
                  "molood.detectors.sego.detector", "molood.screening.worker")
"""What a screening worker runs on: imported once by the fork server."""

MOLECULE_SCORER_PRELOAD = ("numpy", "rdkit.Chem", "molood.chem.features",
                           "molood.detectors.hybrid.detector", "molood.screening.worker")
"""What a worker scoring with a torch-free model (the hybrid detector without a SEGO part)
runs on: no torch to import, map or share."""


def resolve_n_jobs(n_jobs: int | None) -> int:
    """scikit-learn convention: None/0/1 → 1 (serial), -1 → all cores, -k → cores + 1 − k."""
    if n_jobs is None or n_jobs == 0:
        return 1
    n_jobs = int(n_jobs)
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return n_jobs


def _watch_parent() -> None:
    # The process that asked for this worker, whether it was spawned or came from the fork
    # server (whose child it is then): join() returns when that process has exited.
    parent = mp.parent_process()
    if parent is not None:
        parent.join()
        os._exit(1)


def _worker_init(init: Callable[..., None] | None, initargs: tuple) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, daemon=True).start()
    if init is not None:
        init(*initargs)


def _has_forkserver() -> bool:
    return sys.platform.startswith("linux") and "forkserver" in mp.get_all_start_methods()


def _context(preload: Sequence[str]) -> mp.context.BaseContext:
    if _has_forkserver():
        ctx = mp.get_context("forkserver")
        if preload:  # only takes effect if the server is not running yet
            ctx.set_forkserver_preload(list(preload))
        _ensure_forkserver()
        return ctx
    return mp.get_context("spawn")


def _ensure_forkserver() -> None:
    """Start the fork server if it is not running, with :data:`WORKER_ENV` in its
    environment (this process's is left as it was)."""
    from multiprocessing import forkserver

    old = os.environ.get(WORKER_ENV)
    os.environ[WORKER_ENV] = "1"
    try:
        forkserver.ensure_running()
    finally:
        if old is None:
            del os.environ[WORKER_ENV]
        else:
            os.environ[WORKER_ENV] = old


def start_forkserver(preload: Sequence[str] = SCORER_PRELOAD) -> None:
    """Start the fork server now, importing ``preload``, and return at once.

    Later :func:`ordered_map` calls with ``n_jobs > 1`` fork their workers from it. Calling
    it early (before the caller's own heavy imports) lets the server's imports run on another
    core meanwhile. A no-op off Linux (workers are spawned there) or when it already runs.
    """
    if _has_forkserver():
        _context(preload)


def _terminate(ex: ProcessPoolExecutor) -> None:
    """Stop the workers now (a running chunk is discarded, not waited for)."""
    if hasattr(ex, "terminate_workers"):  # Python >= 3.14
        ex.terminate_workers()
        return
    procs = list((getattr(ex, "_processes", None) or {}).values())
    ex.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(5)


def ordered_map(fn: Callable[..., Any], items: Iterable[tuple], n_jobs: int | None = 1, *,
                initializer: Callable[..., None] | None = None, initargs: tuple = (),
                max_in_flight: int | None = None, preload: Sequence[str] = ()) -> Iterator[Any]:
    """Yield ``fn(*item)`` for each tuple in ``items``, in order.

    Parameters
    ----------
    fn : callable
        A module-level function (it is pickled by reference for the workers).
    items : iterable of tuple
        Argument tuples; consumed lazily, at most ``max_in_flight`` ahead of the results.
    n_jobs : int or None
        Worker processes (see :func:`resolve_n_jobs`); 1 runs in this process.
    initializer, initargs
        Run once per worker before any item (e.g. load a model into a module global). With
        ``n_jobs == 1`` it runs once in this process.
    max_in_flight : int, optional
        Items submitted but not yet yielded (default ``2 * n_jobs``).
    preload : sequence of str
        Modules the fork server imports before forking workers (if it is not running yet).
    """
    n = resolve_n_jobs(n_jobs)
    if n == 1:
        if initializer is not None:
            initializer(*initargs)
        for item in items:
            yield fn(*item)
        return
    limit = max(n, int(max_in_flight or 2 * n))
    ex = ProcessPoolExecutor(max_workers=n, mp_context=_context(preload),
                             initializer=_worker_init, initargs=(initializer, initargs))
    pending: deque[Future] = deque()
    finished = False
    try:
        it = iter(items)
        exhausted = False
        while True:
            while not exhausted and len(pending) < limit:
                try:
                    item = next(it)
                except StopIteration:
                    exhausted = True
                    break
                pending.append(ex.submit(fn, *item))
            if not pending:
                break
            yield pending.popleft().result()
        finished = True
    finally:
        if finished:
            ex.shutdown(wait=True)
        else:  # error, Ctrl-C or the consumer stopped early: do not wait for running chunks
            _terminate(ex)
