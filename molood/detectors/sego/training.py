"""SEGO's training loop (spec §4–§5): minibatches of ID graphs, the three InfoNCE losses
(global, local, tree) and their adaptive weights, one Adam step per batch.

Kept apart from the estimator (:mod:`.detector`), which decides *what* to train on and what to
do with the trained network (bank, calibration); this module only knows *how* an epoch runs.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Callable, Sequence

import numpy as np
import torch

from molood import _term
from molood.detectors.sego.batching import Prepared, assemble, minibatches, tree_tensors
from molood.detectors.sego.checkpoint import Checkpointer, TrainState
from molood.detectors.sego.losses import adaptive_weights, global_infonce, local_infonce
from molood.detectors.sego.nets import SEGONet

__all__ = ["make_optimizer", "train_epochs", "budget_epochs", "steps_per_epoch", "LOSS_NAMES",
           "AUTO_MAX_STEPS", "TRAIN_THREADS"]

TRAIN_THREADS = 1
"""torch threads training always runs on, whatever ``num_threads`` says: a parallel reduction's
summation order depends on the thread count, and with it the trained model. One thread is
also the fastest for SEGO's small matrices (``num_threads``' docstring)."""

logger = logging.getLogger(__name__)

LOSS_NAMES = ("tree", "global", "local")
"""The three losses, in the order of the adaptive weights."""


def make_optimizer(net: SEGONet, lr: float, tree_lr: float, faithful: bool) -> torch.optim.Adam:
    """Adam over the two views and heads at ``lr``; the tree encoder at ``tree_lr``, or frozen
    in faithful mode (the reference never steps its tree optimiser)."""
    groups: list[dict[str, Any]] = [{"params": net.view_parameters(), "lr": float(lr)}]
    if faithful:
        net.tree.requires_grad_(False)
    else:
        groups.append({"params": list(net.tree.parameters()), "lr": float(tree_lr)})
    return torch.optim.Adam(groups, foreach=True)


AUTO_MAX_STEPS = 25_600
"""Optimiser steps ``max_steps="auto"`` allows (400 epochs of 64 batches of 128): every set of
up to 8,192 training molecules runs all its 400 epochs, as before the cap (so does every
development pair but MUV's); larger ones stop there."""

SECONDS_PER_MOLECULE_STEP = 0.5e-3
"""Rough CPU time of one molecule in one step (one thread; ``benchmarks/train_speed.py``
measured 0.43-0.54 ms on Tox21 and BBBP): the estimate printed before training starts."""


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimiser steps in one epoch over ``n_train`` molecules."""
    from molood.detectors.sego.batching import minibatches

    return max(1, len(minibatches(np.arange(int(n_train)), int(batch_size))))


def budget_epochs(n_train: int, batch_size: int, epochs: int, max_steps: int | str | None
                  ) -> int:
    """Epochs a fit runs: ``epochs``, cut so that at most ``max_steps`` optimiser steps are taken
    (at least one epoch; None: no cap; "auto": :data:`AUTO_MAX_STEPS`)."""
    epochs = int(epochs)
    if max_steps is None:
        return epochs
    cap = AUTO_MAX_STEPS if max_steps == "auto" else int(max_steps)
    return max(1, min(epochs, cap // steps_per_epoch(n_train, batch_size)))


def train_epochs(net: SEGONet, opt: torch.optim.Optimizer, data: Prepared, trees: Sequence[Any],
                 tree_of: np.ndarray, train_idx: np.ndarray, *, epochs: int, batch_size: int,
                 alpha: float, faithful: bool, seed: int, verbose: bool,
                 checkpoint: "Checkpointer | None" = None, resume: bool = False,
                 time_budget: float | None = None,
                 on_epoch: Callable[[int, SEGONet], None] | None = None
                 ) -> tuple[list[dict[str, float]], dict[str, np.ndarray]]:
    """Train ``net`` in place for ``epochs`` epochs over graphs ``train_idx`` of ``data``.

    ``trees[tree_of[i]]`` is the coding tree of graph i. Batches are drawn with a generator
    seeded by ``seed`` (torch's global RNG drives the initialisation, seeded by the caller).
    ``checkpoint``: written at epoch ends (:mod:`.checkpoint`); ``resume`` continues from it
    when it exists. ``time_budget`` (seconds): no epoch is started that the time left is not
    expected to fit (then fewer than ``epochs`` run: ``len(history)``). ``on_epoch(epochs
    done, net)`` is called after every epoch (benchmarks look at the network there; it must
    leave the network as it found it).

    Returns
    -------
    history : list of dict
        Per epoch: mean losses ``loss_tree/global/local``, the weights used, seconds.
    last : dict of ndarray
        The last epoch's per-graph losses ``tree``, ``global``, ``local`` (float64) and
        ``n`` (atoms per graph), in the order they were trained.
    """
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(int(seed))
    weights = torch.ones(3, dtype=torch.float64)  # (tree, global, local)
    history: list[dict[str, float]] = []
    start = 0
    saved = checkpoint.load() if checkpoint is not None and resume else None
    if saved is not None:
        net.load_state_dict(saved.net)
        opt.load_state_dict(saved.opt)
        gen.set_state(saved.gen)
        weights, history, start = saved.weights.clone(), list(saved.history), saved.epoch
        _term.say(logger, f"resuming SEGO training after epoch {start}/{epochs} from "
                          f"{checkpoint.path}")
    last: dict[str, np.ndarray] = {}
    plain = verbose and not _term.interactive(sys.stderr)  # a log file: lines, not a bar
    spe = steps_per_epoch(len(train_idx), batch_size)
    if verbose:
        rough = (epochs - start) * spe * min(batch_size, len(train_idx)) \
            * SECONDS_PER_MOLECULE_STEP
        _term.say(logger, f"SEGO training: {len(train_idx):,} molecules, {epochs - start} "
                          f"epochs x {spe} steps; roughly {_term.duration(rough)} on one core"
                          + (f" (stops within {_term.duration(time_budget)})"
                             if time_budget else ""))
    bar = tqdm(range(start, int(epochs)), desc="SEGO fit", unit="epoch", file=sys.stderr,
               disable=not verbose or plain, leave=False)
    t0 = last_line = time.monotonic()
    for epoch in bar:
        done = epoch - start
        if time_budget is not None and done and (time.monotonic() - t0) / done * (done + 1) \
                > float(time_budget):
            _term.say(logger, f"SEGO training: time budget reached after {epoch} epochs")
            break
        t_epoch = time.perf_counter()
        net.train()
        perm = train_idx[torch.randperm(len(train_idx), generator=gen).numpy()]
        per: dict[str, list[np.ndarray]] = {"tree": [], "global": [], "local": [], "n": []}
        for idx in minibatches(perm, int(batch_size)):
            losses = _step(net, opt, data, [trees[j] for j in tree_of[idx]], idx, weights,
                           faithful)
            for k, v in zip(LOSS_NAMES, losses):
                per[k].append(v.detach().numpy().astype(np.float64))
            per["n"].append(data.num_nodes[idx])
        last = {k: np.concatenate(v) for k, v in per.items()}
        rec = {"epoch": epoch + 1,
               **{f"loss_{k}": float(last[k].mean()) for k in LOSS_NAMES},
               "w_tree": float(weights[0]), "w_global": float(weights[1]),
               "w_local": float(weights[2]), "time_s": time.perf_counter() - t_epoch}
        history.append(rec)
        bar.set_postfix(tree=f"{rec['loss_tree']:.3f}", glob=f"{rec['loss_global']:.3f}",
                        local=f"{rec['loss_local']:.3f}")
        logger.debug("epoch %d: %s", epoch + 1, rec)
        weights = adaptive_weights([last[k].std() for k in LOSS_NAMES], float(alpha))
        if plain and (time.monotonic() - last_line >= _term.PROGRESS_SECONDS
                      or epoch + 1 == int(epochs)):
            last_line = time.monotonic()
            left = (last_line - t0) / (done + 1) * (int(epochs) - epoch - 1)
            _plain_line(epoch + 1, int(epochs), rec, last_line - t0, left)
        if on_epoch is not None:
            on_epoch(epoch + 1, net)
        if checkpoint is not None and epoch + 1 < int(epochs) and checkpoint.due():
            checkpoint.save(TrainState(epoch + 1, net.state_dict(), opt.state_dict(),
                                       gen.get_state(), weights.clone(), history))
    bar.close()
    if not last and history:  # resumed after the last epoch: nothing left to run
        raise ValueError("the checkpoint is of a finished training run; delete it")
    return history, last


def _plain_line(epoch: int, epochs: int, rec: dict[str, float], seconds: float,
                left: float) -> None:
    _term.say(logger, f"SEGO fit: epoch {epoch}/{epochs} ({seconds:.0f} s, about "
                      f"{_term.duration(left)} left), loss global {rec['loss_global']:.3f}, "
                      f"local {rec['loss_local']:.3f}, tree {rec['loss_tree']:.3f}")


def _step(net: SEGONet, opt: torch.optim.Optimizer, data: Prepared, trees: Sequence[Any],
          idx: np.ndarray, weights: torch.Tensor, faithful: bool
          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One optimiser step on graphs ``idx``; per-graph (tree, global, local) losses."""
    b = assemble(data, idx)
    parents, gids = tree_tensors(trees)
    out = net(b.graph, b.x, b.topo, b.node_graph, b.size)
    l_g = global_infonce(out["g_f"], out["g_s"])
    l_n = local_infonce(out["n_f"], out["n_s"], b.node_graph, b.num_nodes)
    if faithful:
        with torch.no_grad():
            z_t = net.forward_tree(b.leaf, parents, gids, b.size)
    else:
        z_t = net.forward_tree(b.leaf, parents, gids, b.size)
    l_t = global_infonce(z_t, out["g_f"])
    w = weights.to(torch.float32)
    loss = w[0] * l_t.mean() + w[1] * l_g.mean() + w[2] * l_n.mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return l_t, l_g, l_n
