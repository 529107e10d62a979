"""Training checkpoints of SEGO: what a killed ``molood train`` resumes from.

A checkpoint is written at the end of an epoch, at most every ``every_s`` seconds, atomically
(temp file + rename, so a kill while writing leaves the previous one intact). It holds what
the next epoch depends on — network and Adam state, the shuffling generator's state, the
adaptive loss weights, the epochs done and their losses — so that a resumed fit takes exactly
the steps an uninterrupted one would and gives the same model, bit for bit (same seed, same
machine type). It is written with ``torch.save`` and read with ``weights_only=True``: tensors,
numbers and strings only, no code runs on loading.

A checkpoint is tied to its training run by a key (hash of the training graphs, the split and
the model parameters): a checkpoint of another run is refused, not silently continued.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from molood._fs import atomic_path

__all__ = ["Checkpointer", "TrainState", "CHECKPOINT_FORMAT", "run_key"]

CHECKPOINT_FORMAT = "molood-sego-checkpoint-1"


def run_key(graphs_sha256: str, params: dict[str, Any], train_idx: np.ndarray) -> str:
    """What ties a checkpoint to its run: a hash of the format, the torch version, the
    training graphs (their SHA-256), every parameter the trained network depends on and the
    training split."""
    h = hashlib.sha256()
    for part in (CHECKPOINT_FORMAT, torch.__version__, graphs_sha256,
                 json.dumps(params, sort_keys=True, default=str)):
        h.update(part.encode())
        h.update(b"\0")
    h.update(np.ascontiguousarray(train_idx, dtype=np.int64).tobytes())
    return h.hexdigest()


@dataclass
class TrainState:
    """Where training stands after ``epoch`` epochs: network, optimiser, generator state,
    adaptive weights and the loss history."""

    epoch: int
    net: dict[str, torch.Tensor]
    opt: dict[str, Any]
    gen: torch.Tensor
    weights: torch.Tensor
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass
class Checkpointer:
    """Writes :class:`TrainState` to ``path`` every ``every_s`` seconds (0: every epoch) and
    reads it back for a run whose ``key`` matches."""

    path: Path
    key: str
    every_s: float = 300.0
    _last: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    def due(self) -> bool:
        """Whether enough time has passed since the last checkpoint."""
        return time.monotonic() - self._last >= float(self.every_s)

    def save(self, state: TrainState) -> None:
        """Write ``state`` atomically."""
        payload = {"format": CHECKPOINT_FORMAT, "key": self.key, "epoch": int(state.epoch),
                   "net": state.net, "opt": state.opt, "gen": state.gen,
                   "weights": state.weights, "history": json.dumps(state.history)}
        with atomic_path(self.path, makedirs=True) as tmp:
            torch.save(payload, tmp)
        self._last = time.monotonic()

    def load(self) -> TrainState | None:
        """The saved state, or None when there is no checkpoint. ValueError when the file is
        not a checkpoint or belongs to another run (other data, split or parameters)."""
        if not self.path.exists():
            return None
        try:
            raw = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the same error
            raise ValueError(f"{self.path}: not a readable molood checkpoint ({exc})") from exc
        if not isinstance(raw, dict) or raw.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{self.path}: not a molood SEGO checkpoint")
        if raw.get("key") != self.key:
            raise ValueError(f"{self.path}: this checkpoint was written for another training "
                             "run (other molecules, split or parameters); delete it or train "
                             "without --resume")
        return TrainState(epoch=int(raw["epoch"]), net=raw["net"], opt=raw["opt"],
                          gen=raw["gen"], weights=raw["weights"],
                          history=json.loads(raw["history"]))

    def remove(self) -> None:
        """Delete the checkpoint (the fit finished)."""
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass
