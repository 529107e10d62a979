"""The worker-process side of :func:`~molood.screening.engine.screen`.

:func:`init_scorer` runs once per worker (or once in-process for a serial run) and loads the
model into a module global; :func:`score_job` then scores one task of raw inputs with it. Both
are module-level functions, so that the process pool pickles them by reference. Importing this
module does not import torch: :func:`init_scorer` does, in the worker.
"""

from __future__ import annotations

import sys
from typing import Any

from molood.chem.limits import DEFAULT_MAX_ATOMS
from molood.chem.parse import InputKind
from molood.screening.models import get_model
from molood.screening.scoring import ScoredRows, score_inputs

__all__ = ["init_scorer", "score_job"]

_WORKER_DET: Any = None
_OPTIONS: dict[str, Any] = {}


def _keep_freed_memory() -> None:
    """Make glibc keep freed memory in this (worker) process.

    Scoring a block of molecules allocates short-lived multi-MB tensors (~60 MB for a SEGO
    model and 250 molecules, the block size when this was measured). By default glibc serves
    such blocks with fresh ``mmap``s, or trims them off the heap, and gives them back to the
    kernel when freed, so every block faults its memory in anew: ~1.5 million page faults, a
    third of a worker's CPU time spent in the kernel, per 25,000 molecules. A fixed
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


def init_scorer(model_path: str, detector: Any = None, in_worker: bool = True,
                max_atoms: int | None = DEFAULT_MAX_ATOMS, smiles: bool = True,
                fpr: float | None = None) -> None:
    """Load the scorer :func:`score_job` uses: ``detector`` itself, else the file
    ``model_path`` (in a worker: the scoring-only load, no version check, which the parent
    did; one torch thread when the model uses torch at all); ``max_atoms`` and ``smiles``
    are the screen's options of :func:`~molood.screening.scoring.score_inputs` (the cap;
    whether to return the SMILES scored)."""
    global _WORKER_DET
    if in_worker:
        _keep_freed_memory()
    if detector is None:
        from molood.persist import load_scoring_model

        # workers need no DGL and no version check (the parent did it): the scoring-only load
        detector = load_scoring_model(model_path) if in_worker else get_model(model_path)
    if in_worker and "torch" in sys.modules:  # a model with a SEGO part (hybrid: none)
        import torch

        torch.set_num_threads(1)  # one process per core is faster than threads for these sizes
    _WORKER_DET = detector
    _OPTIONS.update(max_atoms=max_atoms, smiles=smiles, fpr=fpr)


def score_job(inputs: list, kind: InputKind) -> ScoredRows:
    """Scores, statuses and SMILES of one task (:func:`~molood.screening.scoring.score_inputs`
    with the options given to :func:`init_scorer`)."""
    return score_inputs(_WORKER_DET, inputs, kind, **_OPTIONS)
