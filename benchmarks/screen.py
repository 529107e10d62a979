"""Screening throughput: `molood screen` end to end vs RDKit parse-only, same process count.

    python benchmarks/screen.py --input /work/shared/data/screening/moses_test.csv.gz \
        --workers 2 --n 20000

1. Writes the first ``--n`` rows of ``--input`` (a SMILES table) to a temporary CSV.
2. RDKit parse-only: ``Chem.MolFromSmiles`` on every SMILES of that CSV with ``--workers``
   processes (spawned and warmed up before timing; reading the CSV is timed).
3. ``molood screen`` as a subprocess on the same CSV with ``--workers`` (timed end to end:
   interpreter start, imports, model load, worker start-up, reading, scoring, writing), while
   the peak memory of its whole process tree is sampled from /proc: the sum of RSS (counts
   shared library pages once per process: an upper bound; every 50 ms) and of PSS (every
   0.5 s: reading it is expensive).
4. Prints both throughputs and their ratio as text and, with ``--json``, as
   one JSON line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _parse_chunk(smiles: list[str]) -> int:
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    return sum(Chem.MolFromSmiles(s) is not None for s in smiles)


def _warm(_: int) -> int:
    from rdkit import Chem  # noqa: F401

    return 0


def parse_only(csv: Path, workers: int, chunk: int = 10_000) -> tuple[float, int, int]:
    """(seconds, rows, valid) parsing every SMILES of ``csv`` with ``workers`` processes."""
    import pyarrow.csv as pacsv

    def chunks():
        t = pacsv.read_csv(csv, convert_options=pacsv.ConvertOptions(
            include_columns=[_smiles_col(csv)]))
        col = t.column(0).to_pylist()
        for i in range(0, len(col), chunk):
            yield col[i:i + chunk]

    if workers <= 1:
        t0 = time.perf_counter()
        counts = [(len(c), _parse_chunk(c)) for c in chunks()]
        return time.perf_counter() - t0, sum(n for n, _ in counts), sum(v for _, v in counts)
    with mp.get_context("spawn").Pool(workers) as pool:
        pool.map(_warm, range(workers))
        t0 = time.perf_counter()
        sizes, valid = [], 0
        parts = list(chunks())
        for v in pool.imap(_parse_chunk, parts):
            valid += v
        sizes = [len(p) for p in parts]
        return time.perf_counter() - t0, sum(sizes), valid


def _smiles_col(csv: Path) -> str:
    header = csv.open().readline().strip().split(",")
    for name in header:
        if name.lower() in ("smiles", "canonical_smiles", "mol"):
            return name
    return header[0]


# ----------------------------------------------------------------------------- memory
def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def _mem_kb(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def _rss_kb(pid: int) -> int:
    """RSS from /proc/PID/statm: cheap, unlike smaps_rollup (which walks the page tables)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


class TreeMemory(threading.Thread):
    """Samples the summed RSS/PSS of a process tree until stopped; keeps the peaks (MiB).

    RSS is read every ``interval`` (from ``statm``); PSS only every ``pss_every``-th sample,
    because reading ``smaps_rollup`` of a few 500 MB processes 20 times a second costs a third
    of a core, which on a busy 2-core machine is taken from the screening workers being timed.
    """

    def __init__(self, pid: int, interval: float = 0.05, pss_every: int = 10) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.pss_every = pid, interval, pss_every
        self.peak_rss = self.peak_pss = 0.0
        self.peak_procs = 0
        self._halt = threading.Event()

    def run(self) -> None:
        k = 0
        while not self._halt.is_set():
            pids = _tree(self.pid)
            if k % self.pss_every == 0:
                mem = [_mem_kb(p) for p in pids]
                self.peak_pss = max(self.peak_pss, sum(p for _, p in mem) / 1024)
                rss = sum(r for r, _ in mem)
            else:
                rss = sum(_rss_kb(p) for p in pids)
            self.peak_rss = max(self.peak_rss, rss / 1024)
            self.peak_procs = max(self.peak_procs, len(pids))
            k += 1
            time.sleep(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def run_screen(csv: Path, out: Path, workers: int, batch_size: int | None,
               model: str | None) -> tuple[float, TreeMemory, str]:
    cmd = [sys.executable, "-m", "molood.cli", "screen", str(csv), "-o", str(out),
           "--workers", str(workers), "--quiet"]
    if batch_size:
        cmd += ["--batch-size", str(batch_size)]
    if model:
        cmd += ["--model", model]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    mon = TreeMemory(proc.pid)
    mon.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - t0
    mon.stop()
    if proc.returncode != 0:
        raise SystemExit(f"molood screen failed ({proc.returncode}): {err}")
    return seconds, mon, err


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", required=True, help="SMILES table (.csv[.gz]/.parquet)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--n", type=int, default=20_000, help="first N rows (0 = all)")
    ap.add_argument("--batch-size", type=int, default=None, help="molood screen --batch-size")
    ap.add_argument("--model", default=None, help="model file [bundled default]")
    ap.add_argument("--json", action="store_true", help="also print one JSON line")
    args = ap.parse_args()

    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="molood-bench-") as tmp:
        tmp = Path(tmp)
        csv = tmp / "library.csv"
        src = args.input
        df = pd.read_parquet(src) if src.endswith((".parquet", ".pq")) else pd.read_csv(src)
        if args.n:
            df = df.iloc[: args.n]
        df.to_csv(csv, index=False)
        n = len(df)
        del df

        t_parse, rows, valid = parse_only(csv, args.workers)
        t_screen, mem, _ = run_screen(csv, tmp / "out.parquet", args.workers, args.batch_size,
                                      args.model)
        out = pd.read_parquet(tmp / "out.parquet", columns=["molood_status"])
        assert len(out) == n, (len(out), n)
        scored = int((out["molood_status"] == "ok").sum())

    parse_rate, screen_rate = rows / t_parse, n / t_screen
    res = {"input": os.path.basename(args.input), "rows": n, "workers": args.workers,
           "parse_s": round(t_parse, 2), "parse_mol_s": round(parse_rate),
           "parse_valid": valid, "screen_s": round(t_screen, 2),
           "screen_mol_s": round(screen_rate), "screen_scored": scored,
           "ratio": round(screen_rate / parse_rate, 3),
           "peak_rss_tree_mib": round(mem.peak_rss), "peak_pss_tree_mib": round(mem.peak_pss),
           "processes": mem.peak_procs, "cpus": os.cpu_count(),
           "loadavg_1min": round(os.getloadavg()[0], 2)}
    print(f"input            {res['input']}: {n:,} rows, {args.workers} process(es), "
          f"{os.cpu_count()} CPUs (load {res['loadavg_1min']})")
    print(f"RDKit parse only {t_parse:8.2f} s  {parse_rate:10,.0f} mol/s  ({valid:,} valid)")
    print(f"molood screen    {t_screen:8.2f} s  {screen_rate:10,.0f} mol/s  ({scored:,} scored, "
          f"end to end incl. start-up)")
    print(f"ratio            {res['ratio']:.3f}  (screen / parse-only)")
    print(f"peak memory      {res['peak_rss_tree_mib']:,} MiB RSS, {res['peak_pss_tree_mib']:,} "
          f"MiB PSS summed over {mem.peak_procs} processes")
    if args.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
