"""Training and scoring speed of SEGODetector on MoleculeNet sets (CPU).

Reports, per dataset: featurization + coding-tree time, seconds per training epoch (median over
the timed epochs), total fit time, and scoring throughput in molecules/s with featurization
excluded (``score_graphs`` on pre-featurized graphs) and included (``score`` on SMILES).

Targets (2 CPU cores): 400-epoch FreeSolv fit <= 90 s total; BBBP <= 3 s per epoch.

Usage::

    python benchmarks/train_speed.py                       # FreeSolv 400 epochs, others 3
    python benchmarks/train_speed.py --epochs 5 --freesolv-epochs 20 --threads 1
    python benchmarks/train_speed.py --data-dir ../shared/data/moleculenet --json out.json

Datasets whose file is missing are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("DGLBACKEND", "pytorch")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from molood.detectors.sego.detector import SEGODetector  # noqa: E402
from molood.chem.features import smiles_to_arrays  # noqa: E402


def _datasets(data_dir: Path) -> list[tuple[str, Path]]:
    return [("freesolv", REPO / "data" / "freesolv.csv"),
            ("bbbp", data_dir / "BBBP.csv"),
            ("tox21", data_dir / "tox21.csv")]


def run(name: str, path: Path, epochs: int, threads: int, score_repeats: int = 1) -> dict:
    smiles = pd.read_csv(path)["smiles"].astype(str).tolist()
    det = SEGODetector(epochs=epochs, num_threads=threads, on_invalid="skip", verbose=False)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det.fit(smiles)
    fit_s = time.perf_counter() - t0
    epoch_s = [h["time_s"] for h in det.history_]
    setup_s = det.train_time_s_ - sum(epoch_s)  # featurize + split + trees
    ga, errors = smiles_to_arrays(smiles)
    valid = [s for s, e in zip(smiles, errors) if e is None]
    t = time.perf_counter()
    for _ in range(score_repeats):
        det.score_graphs(ga, batch_size=512)
    graphs_s = (time.perf_counter() - t) / score_repeats
    t = time.perf_counter()
    for _ in range(score_repeats):
        det.score(valid, batch_size=512)
    smiles_s = (time.perf_counter() - t) / score_repeats
    return {
        "dataset": name, "molecules": len(smiles), "train": det.n_train_, "held_out": det.n_val_,
        "epochs": epochs, "setup_s": round(setup_s, 2), "trees_s": round(det.tree_time_s_, 2),
        "epoch_s_median": round(float(np.median(epoch_s)), 3),
        "epoch_s_first": round(epoch_s[0], 3), "fit_total_s": round(fit_s, 1),
        "score_mol_per_s_featurized": round(len(ga) / graphs_s),
        "score_mol_per_s_from_smiles": round(len(valid) / smiles_s),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data/moleculenet"))
    ap.add_argument("--epochs", type=int, default=3, help="epochs for BBBP / Tox21")
    ap.add_argument("--freesolv-epochs", type=int, default=400)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--only", nargs="*", help="dataset names to run (default: all present)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)

    rows = []
    for name, path in _datasets(args.data_dir):
        if args.only and name not in args.only:
            continue
        if not path.exists():
            print(f"skip {name}: {path} not found", file=sys.stderr)
            continue
        epochs = args.freesolv_epochs if name == "freesolv" else args.epochs
        print(f"{name}: {epochs} epochs ...", file=sys.stderr, flush=True)
        rows.append(run(name, path, epochs, args.threads))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    if not rows:
        print("no dataset found", file=sys.stderr)
        return 1
    table = pd.DataFrame(rows).set_index("dataset")
    print(f"# torch {torch.__version__}, threads={args.threads}, cpus={os.cpu_count()}, "
          f"{platform.processor() or platform.machine()}")
    print(table.to_string())
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
