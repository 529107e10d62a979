"""Hybrid detector at scale: train on the first N molecules of a SMILES table, report the time,
peak memory and model-file size.

    python benchmarks/hybrid_scale.py --input /work/shared/data/screening/moses_train.csv.gz \
        --n 100000 --out /tmp/moses100k.molood

1. Writes the first ``--n`` rows of ``--input`` to a temporary CSV.
2. Runs ``molood train`` (default detector and settings, ``--seed 0``) on it as a subprocess,
   timed end to end, sampling the peak RSS of its process tree from /proc every 50 ms.
3. Prints the wall time, the peak RSS and the size of the model file (text, and one JSON line
   with ``--json``). Screening speed with that model: ``benchmarks/screen.py --model OUT``.
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
    ap.add_argument("--n", type=int, default=100_000, help="first N rows")
    ap.add_argument("--out", required=True, help="model file to write")
    ap.add_argument("--json", action="store_true", help="also print one JSON line")
    args = ap.parse_args(argv)

    import pandas as pd

    df = (pd.read_parquet(args.input) if args.input.endswith(".parquet")
          else pd.read_csv(args.input, nrows=args.n))
    df = df.iloc[: args.n]
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "train.csv"
        df.to_csv(csv, index=False)
        cmd = [sys.executable, "-m", "molood.cli.main", "train", str(csv), "-o", args.out,
               "--seed", "0", "--quiet"]
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
    res = {"n": len(df), "train_wall_s": round(wall, 1), "peak_rss_mib": round(peak / 2**20),
           "model_bytes": size}
    print(f"hybrid train on {len(df):,} molecules: {wall:.1f} s wall, peak RSS "
          f"{peak / 2**20:,.0f} MiB; model file {size / 2**20:.1f} MiB -> {args.out}")
    if args.json:
        print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
