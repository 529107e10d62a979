"""Training at scale: `molood train` on a large SMILES table, its time, peak memory and model
size, then screening speed with the model it wrote.

    python benchmarks/train_scale.py --input ../shared/data/screening/moses_train.csv.gz \
        --n 0 --jobs 2 --out /tmp/moses.molood \
        --screen ../shared/data/screening/moses_test.csv.gz

1. ``--n N`` > 0 writes the first N rows of ``--input`` to a temporary CSV; ``--n 0`` trains
   on ``--input`` itself (target: MOSES' 1,584,663 molecules in <= 60 min, <= 6 GB).
2. Runs ``molood train INPUT -o OUT --seed 0 --jobs J`` (default detector and settings) as a
   subprocess, timed end to end, sampling the RSS of its whole process tree from /proc every
   50 ms (RSS counts shared pages once per process: an upper bound); its progress lines are
   passed through, so where the time goes can be read off.
3. With ``--screen LIB``: ``benchmarks/screen.py --input LIB --n 0 --model OUT`` (screening
   vs RDKit parse-only, same processes; target >= 0.15x) and, when the model searches a HNSW
   graph, how close that comes to exact search for the first ``--recall`` molecules of LIB
   (standardised as the model does): the share of the exact 5 nearest found, the share of
   molecules whose top similarity is the exact one, and the mean absolute error of the knn
   score (1 - mean similarity of 5), with the time per query of both searches.
   ``--expansions 24,32,48,64`` repeats that comparison at each HNSW search setting, and
   ``--no-train`` runs only the comparison, for the existing model ``--out``.
4. Prints the figures (text, and one JSON line with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _tree_rss(pid: int) -> int:
    """Sum of RSS (bytes) of ``pid`` and its descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            with open(f"/proc/{p}/task/{p}/children") as fh:
                todo.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True, help="SMILES table (.csv[.gz]/.parquet)")
    ap.add_argument("--n", type=int, default=100_000, help="first N rows (0 = the whole file)")
    ap.add_argument("--jobs", type=int, default=2, help="molood train --jobs")
    ap.add_argument("--out", required=True, help="model file to write")
    ap.add_argument("--screen", default=None, help="library to screen with the model")
    ap.add_argument("--workers", type=int, default=2, help="screening processes")
    ap.add_argument("--recall", type=int, default=500,
                    help="library molecules to compare HNSW with exact search on (0: none)")
    ap.add_argument("--expansions", default=None,
                    help="comma-separated HNSW expansion_search values to compare with exact "
                         "search too (the search setting; e.g. 24,32,48,64)")
    ap.add_argument("--no-train", action="store_true",
                    help="use the existing model --out (no training, no screening run)")
    ap.add_argument("--json", action="store_true", help="also print one JSON line")
    args = ap.parse_args(argv)
    if args.no_train:
        return _compare_only(args)

    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(args.input)
        if args.n:
            df = (pd.read_parquet(args.input) if args.input.endswith(".parquet")
                  else pd.read_csv(args.input, nrows=args.n)).iloc[: args.n]
            csv = Path(tmp) / "train.csv"
            df.to_csv(csv, index=False)
            del df
        cmd = [sys.executable, "-m", "molood.cli.main", "train", str(csv), "-o", args.out,
               "--seed", "0", "--jobs", str(args.jobs)]
        peak = 0
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss(proc.pid))
                time.sleep(0.05)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        rc = proc.wait()
        done.set()
        th.join()
        wall = time.perf_counter() - t0
    if rc != 0:
        print(f"molood train failed with exit status {rc}", file=sys.stderr)
        return rc
    size = os.path.getsize(args.out)
    from molood.persist import read_manifest

    n = int(read_manifest(args.out)["training_set"]["n_fit"])
    res = {"input": os.path.basename(args.input), "n_fit": n, "jobs": args.jobs,
           "train_wall_s": round(wall, 1), "peak_rss_tree_mib": round(peak / 2**20),
           "model_bytes": size, "cpus": os.cpu_count()}
    print(f"molood train on {n:,} molecules ({args.jobs} jobs): {wall:.1f} s wall, peak RSS "
          f"of the process tree {peak / 2**20:,.0f} MiB; model file {size / 2**20:.1f} MiB "
          f"-> {args.out}")
    if args.screen:
        out = subprocess.run([sys.executable, str(Path(__file__).with_name("screen.py")),
                              "--input", args.screen, "--n", "0", "--model", args.out,
                              "--workers", str(args.workers), "--json"],
                             capture_output=True, text=True, check=True).stdout
        print(out.rsplit("{", 1)[0].rstrip())
        scr = json.loads("{" + out.rsplit("{", 1)[1])
        res["screen"] = {k: scr[k] for k in ("input", "rows", "workers", "parse_mol_s",
                                             "screen_mol_s", "ratio", "peak_rss_tree_mib")}
    if args.screen and args.recall:
        _report_recall(args, res)
    if args.json:
        print(json.dumps(res))
    return 0


def _compare_only(args: argparse.Namespace) -> int:
    """``--no-train``: only the HNSW-vs-exact comparison of the existing model ``--out``."""
    res: dict = {"model": os.path.basename(args.out)}
    if not (args.screen and args.recall):
        print("--no-train needs --screen LIB (and --recall > 0)", file=sys.stderr)
        return 2
    _report_recall(args, res)
    if args.json:
        print(json.dumps(res))
    return 0


def _report_recall(args: argparse.Namespace, res: dict) -> None:
    """Compare the model's HNSW search with exact search (at each of ``--expansions`` too)
    and print the figures; they go into ``res``."""
    expansions = [None] + ([int(x) for x in args.expansions.split(",")] if args.expansions
                           else [])
    for ef in expansions:
        rec = hnsw_recall(args.out, args.screen, args.recall, ef)
        if rec is None:
            return
        res["hnsw_vs_exact" if ef is None else f"hnsw_vs_exact_expansion_{ef}"] = rec
        print(f"HNSW (expansion_search {rec['expansion_search']}) vs exact search, "
              f"{rec['queries']} library molecules: {rec['recall_at_5']:.3f} of the exact 5 "
              f"nearest found, top similarity exact for {rec['top1_exact']:.3f}, knn score "
              f"error {rec['knn_mae']:.4f} mean ({rec['knn_err_p99']:.3f} at the 99th "
              f"percentile); {rec['hnsw_ms']:.3f} ms vs {rec['exact_ms']:.1f} ms a query")


_EXACT: dict = {}


def hnsw_recall(model: str, library: str, n: int, expansion: int | None = None
                ) -> dict | None:
    """HNSW vs exact neighbours of the first ``n`` molecules of ``library``, searching with
    ``expansion`` candidates (None: the model's own setting); None when the model searches
    exactly. The HNSW search is timed after one warm-up search of the same queries (the
    graph's pages are then in memory, as in a long screen)."""
    import numpy as np
    import pandas as pd

    from molood.chem.fingerprints import packed_fingerprints
    from molood.chem.neighbors import FingerprintIndex, HNSWFingerprintIndex
    from molood.detectors.inputs import to_graph_arrays
    from molood.persist import load_scoring_model

    det = load_scoring_model(model)
    if not isinstance(det.index_, HNSWFingerprintIndex):
        return None
    smi = pd.read_csv(library, nrows=n).iloc[:, 0].tolist()
    std, largest = det.featurizer_settings()
    mols: list = []
    to_graph_arrays(smi, largest, standardizer=std, mols_out=mols, featurize=False)
    bits = packed_fingerprints([m for m in mols if m is not None])
    if expansion is not None:
        det.index_._index.expansion_search = int(expansion)
    det.index_.nearest(bits, k=5)
    t0 = time.perf_counter()
    hi, hs = det.index_.nearest(bits, k=5)
    t_h = time.perf_counter() - t0
    key = (model, library, n)
    if key not in _EXACT:  # exact search of 1.58M costs ~40 ms a query: once per run
        exact = FingerprintIndex(det.reference_.packed())
        t0 = time.perf_counter()
        _EXACT[key] = (*exact.nearest(bits, k=5), time.perf_counter() - t0)
    ei, es, t_e = _EXACT[key]
    err = np.abs(np.nanmean(hs, axis=1) - np.nanmean(es, axis=1))
    return {"queries": len(bits), "expansion_search": det.index_.expansion_search,
            "recall_at_5": float(np.mean([len(set(a) & set(b)) / 5 for a, b in zip(hi, ei)])),
            "top1_exact": float(np.mean(hs[:, 0] == es[:, 0])),
            "knn_mae": float(err.mean()), "knn_err_p99": float(np.percentile(err, 99)),
            "hnsw_ms": 1e3 * t_h / len(bits), "exact_ms": 1e3 * t_e / len(bits)}


if __name__ == "__main__":
    sys.exit(main())
