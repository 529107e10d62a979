"""Time and peak memory of scoring one hostile row (huge, nested, thousands of fragments).

    python benchmarks/hostile.py                 # default cap (max_atoms=1000) and no cap
    python benchmarks/hostile.py --rows chain_2000 --max-atoms none --timeout 600

A tiny SEGO model (2 epochs, hidden_dim 16, the first 100 FreeSolv molecules) is fitted once
(or ``--model`` given). Every (row, cap) pair then runs in a fresh process, one torch thread:
load the model, score an ordinary molecule (warm-up), then ``det.score_samples([row])``.
Reported: wall time of that call, the process's peak RSS during it above its RSS before it
(Linux: the peak is reset through ``/proc/self/clear_refs``; torch allocations are not seen by
tracemalloc), the atom count and the score or refusal reason.
A run killed by ``--timeout`` prints ``>timeout``. Works on older checkouts too (without
``max_atoms`` the cap column is "-"), which is how the "before" numbers were taken.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ROWS = {
    "ordinary": "CC(=O)Nc1ccc(O)cc1",
    "chain_1000": "C" * 1000,
    "nested_1000": "C(" * 999 + "C" + ")" * 999,
    "polyamide_1002": "c1ccccc1" + "C(=O)N" * 332,
    "polyphenylene_1002": "c1ccc(cc1)" * 167,
    "methane_x1000": ".".join(["C"] * 1000),
    "chain_2000": "C" * 2000,
    "ethanol_x2000": ".".join(["CCO"] * 2000),
    "chain_5000": "C" * 5000,
    "polyamide_9006": "c1ccccc1" + "C(=O)N" * 3000,
    "chain_20000": "C" * 20_000,
    "unclosed_50000": "C(" * 50_000,
    "unclosed_brackets": "[CH2](" * 50_000,
}


def _rss_mb(field: str) -> float:
    """``VmRSS`` (current) or ``VmHWM`` (peak) of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover


def _one(model: str, name: str, max_atoms: str) -> dict:
    """Score ROWS[name] in this process; the measurement printed as one JSON line."""
    import numpy as np
    import torch

    from molood.persist import load_model

    torch.set_num_threads(1)
    det = load_model(model)
    cap = "-"
    if "max_atoms" in det.get_params():
        det.set_params(max_atoms=None if max_atoms == "none" else int(max_atoms))
        cap = max_atoms
    det.score_samples([ROWS["ordinary"], "c1ccccc1"])  # warm-up
    smiles = ROWS[name]
    Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
    rss0 = _rss_mb("VmRSS")
    t0 = time.perf_counter()
    if hasattr(det, "score_components") and "max_atoms" in det.get_params():
        comps = det.score_components([smiles])
        score, status = float(comps["score"][0]), str(comps["status"][0])
    else:
        score = float(det.score_samples([smiles])[0])
        status = "ok" if np.isfinite(score) else "nan"
    dt = time.perf_counter() - t0
    rss1 = _rss_mb("VmHWM")
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles) if len(smiles) < 30_000 else None
    return {"row": name, "atoms": mol.GetNumAtoms() if mol is not None else None, "cap": cap,
            "seconds": dt, "peak_rss_mb": rss1 - rss0, "score": score,
            "status": status}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="a .molood file (default: fit a tiny one)")
    ap.add_argument("--rows", nargs="*", default=[k for k in ROWS if k != "ordinary"],
                    choices=list(ROWS))
    ap.add_argument("--max-atoms", nargs="*", default=["1000", "none"],
                    help="caps to run each row with ('none' = no cap)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per row")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.model, args.one, args.max_atoms[0])))
        return 0

    tmp = tempfile.TemporaryDirectory()
    model = args.model
    if model is None:
        import pandas as pd

        from molood.detectors.sego.detector import SEGODetector

        smiles = pd.read_csv(REPO / "data" / "freesolv.csv")["smiles"].tolist()[:100]
        model = str(Path(tmp.name) / "tiny.molood")
        SEGODetector(epochs=2, hidden_dim=16, verbose=False).fit(smiles).save(model)
    print(f"{'row':<20} {'atoms':>6} {'cap':>5} {'seconds':>9} {'peak RSS +MB':>13}  result")
    for name in args.rows:
        for cap in args.max_atoms:
            cmd = [sys.executable, __file__, "--model", model, "--one", name,
                   "--max-atoms", cap]
            try:
                run = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout,
                                     check=True)
            except subprocess.TimeoutExpired:
                print(f"{name:<20} {'':>6} {cap:>5} {'>' + str(int(args.timeout)):>9}")
                continue
            r = json.loads(run.stdout.strip().splitlines()[-1])
            result = f"{r['score']:.3f}" if r["status"] == "ok" else r["status"]
            atoms = "" if r["atoms"] is None else r["atoms"]
            print(f"{name:<20} {atoms:>6} {r['cap']:>5} {r['seconds']:>9.3f} "
                  f"{r['peak_rss_mb']:>13.1f}  {result}", flush=True)
            if r["cap"] == "-":
                break  # an old checkout has no cap: one run per row
    return 0


if __name__ == "__main__":
    sys.exit(main())
