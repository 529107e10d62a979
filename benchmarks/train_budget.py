"""SEGO's training budget on a large set: held-out ID loss after 1/32 ... 1 of the default step
cap (``max_steps="auto"``, 25,600 steps), from one training run.

    python benchmarks/train_budget.py --input ../shared/data/screening/moses_train.csv.gz \
        --n 20000 --held-out 2000

1. The first ``--n`` + ``--held-out`` molecules of ``--input`` (a SMILES table), standardised
   and featurized as ``molood train --detector sego`` does; the last ``--held-out`` of them are
   never trained on.
2. One SEGO training run (product defaults: batch 128, lr 1e-4, tree lr 1e-3, alpha 0.5, seed
   0, one thread) for as many epochs as the cap allows (``budget_epochs``), with the loss
   of the held-out molecules measured after the epochs where the steps taken first reach
   ``cap / 2^j``: the three InfoNCE losses of training (tree, global, local), each a mean
   over fixed batches of 128 held-out molecules, network in eval mode, no gradient.
3. Prints a table (steps, epochs, seconds, held-out losses) and, with ``--json``, one JSON
   line. A curve that flattens well before the cap says the cap costs little; one still
   falling says it stops early.

``--pairs`` instead prints, for every OOD benchmark pair (evaluation and development,
``benchmarks/ood_pairs.py``; data from ``--data-dir``), SEGO's training-set size there and the
epochs run with and without the cap: where they are equal, the cap changes nothing (same model,
bit for bit).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def held_out_loss(net, data, trees, idx: np.ndarray, batch: int = 128) -> dict[str, float]:
    """Mean (tree, global, local) InfoNCE of graphs ``idx`` in fixed batches, eval mode."""
    import torch

    from molood.detectors.sego.batching import assemble, tree_tensors
    from molood.detectors.sego.losses import global_infonce, local_infonce

    was = net.training
    net.eval()
    sums = {"tree": 0.0, "global": 0.0, "local": 0.0}
    with torch.no_grad():
        for s in range(0, len(idx), batch):
            b_idx = idx[s:s + batch]
            if len(b_idx) < 2:
                continue
            b = assemble(data, b_idx)
            parents, gids = tree_tensors([trees[i] for i in b_idx])
            out = net(b.graph, b.x, b.topo, b.node_graph, b.size)
            z_t = net.forward_tree(b.leaf, parents, gids, b.size)
            sums["tree"] += float(global_infonce(z_t, out["g_f"]).sum())
            sums["global"] += float(global_infonce(out["g_f"], out["g_s"]).sum())
            sums["local"] += float(local_infonce(out["n_f"], out["n_s"], b.node_graph,
                                                 b.num_nodes).sum())
    net.train(was)
    return {k: v / len(idx) for k, v in sums.items()}


def pair_budgets(data_dir: Path) -> list[dict]:
    """SEGO's training-set size and epochs with / without the step cap, per benchmark pair
    (ID-train = floor(0.9 n); SEGO holds out max(round(0.1 x), 2) of it for calibration)."""
    import ood_pairs as op

    from molood.chem.parse import canonical_smiles
    from molood.detectors.sego.training import budget_epochs
    from molood.graphs.tu import read_tu_pair

    rows = []
    for split, pairs in (("evaluation", op.PAIRS), ("development", op.DEV_PAIRS)):
        for name, pair in pairs.items():
            if pair.kind == "mol":
                raw = op._read_smiles(data_dir, pair.id)
                n = sum(c is not None for c in canonical_smiles(raw))
            else:
                (gid, _), _ = read_tu_pair(data_dir / "tu", pair.id.path, pair.ood.path)
                n = len(gid)
            id_train = int(n * 0.9)
            n_train = id_train - max(int(round(0.1 * id_train)), 2)
            auto = budget_epochs(n_train, 128, pair.epochs, "auto")
            rows.append({"split": split, "pair": name, "n_id": n, "sego_train": n_train,
                         "epochs": pair.epochs, "epochs_auto": auto,
                         "same_model": auto == pair.epochs})
            print(f"{split:<12} {name:<24} ID {n:>7,}  SEGO trains on {n_train:>7,}: "
                  f"{pair.epochs} epochs, with the cap {auto}"
                  + ("" if auto == pair.epochs else "  <- capped"), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", action="store_true", help="budgets of the OOD benchmark pairs")
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="benchmark data for --pairs [$MOLOOD_SHARED_DATA or ../shared/data]")
    ap.add_argument("--input", help="SMILES table (.csv[.gz])")
    ap.add_argument("--n", type=int, default=20_000, help="training molecules")
    ap.add_argument("--held-out", type=int, default=2_000, help="held-out molecules")
    ap.add_argument("--points", type=int, default=6, help="budgets: cap / 2^j, j < points")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.pairs:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import ood_pairs

        rows = pair_budgets(args.data_dir or ood_pairs.default_data_dir())
        if args.json:
            print(json.dumps(rows))
        return 0
    if not args.input:
        ap.error("--input is required (or --pairs)")

    import pandas as pd
    import torch

    from molood.chem.standardize import featurizer_settings
    from molood.detectors.inputs import to_graph_arrays
    from molood.detectors.sego.backend import torch_threads
    from molood.detectors.sego.batching import prepare
    from molood.detectors.sego.nets import SEGONet
    from molood.detectors.sego.training import (
        AUTO_MAX_STEPS,
        TRAIN_THREADS,
        budget_epochs,
        make_optimizer,
        steps_per_epoch,
        train_epochs,
    )
    from molood.graphs.trees import trees_for_graphs

    df = pd.read_csv(args.input, nrows=args.n + args.held_out)
    std, largest = featurizer_settings("default", None)
    t0 = time.perf_counter()
    ga, valid, _ = to_graph_arrays(df.iloc[:, 0].tolist(), largest, standardizer=std)
    n_ok = len(ga)
    train_idx = np.arange(0, min(args.n, n_ok - args.held_out))
    held_idx = np.arange(n_ok - args.held_out, n_ok)
    data = prepare(ga, with_leaf=True)
    trees = trees_for_graphs(ga, k=5, n_jobs=2)
    t_prep = time.perf_counter() - t0
    spe = steps_per_epoch(len(train_idx), 128)
    epochs = budget_epochs(len(train_idx), 128, 400, "auto")
    marks = sorted({max(1, -(-AUTO_MAX_STEPS // 2 ** j // spe)) for j in range(args.points)})
    marks = [m for m in marks if m <= epochs] + ([epochs] if epochs not in marks else [])
    rows: list[dict] = []
    t_train = time.perf_counter()

    def on_epoch(done: int, net) -> None:
        if done in marks:
            loss = held_out_loss(net, data, trees, held_idx)
            rows.append({"epochs": done, "steps": done * spe,
                         "seconds": round(time.perf_counter() - t_train, 1),
                         **{f"held_out_{k}": round(v, 4) for k, v in loss.items()}})
            print(f"{done * spe:>7,} steps ({done:>4} epochs, {rows[-1]['seconds']:>7.1f} s): "
                  f"held-out loss tree {loss['tree']:.4f}, global {loss['global']:.4f}, "
                  f"local {loss['local']:.4f}", flush=True)

    with torch_threads(TRAIN_THREADS), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = SEGONet(in_dim=data.x.shape[1], topo_dim=data.topo.shape[1],
                      leaf_dim=data.leaf.shape[1], hidden_dim=32, num_layers=5, tree_height=5)
        opt = make_optimizer(net, 1e-4, 1e-3, faithful=False)
        train_epochs(net, opt, data, trees, np.arange(n_ok), train_idx, epochs=epochs,
                     batch_size=128, alpha=0.5, faithful=False, seed=0, verbose=False,
                     on_epoch=on_epoch)
    res = {"input": Path(args.input).name, "n_train": int(len(train_idx)),
           "n_held_out": int(len(held_idx)), "invalid": int((~valid).sum()),
           "steps_per_epoch": spe, "cap_steps": AUTO_MAX_STEPS, "prepare_s": round(t_prep, 1),
           "points": rows}
    if args.json:
        print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
