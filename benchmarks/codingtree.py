"""Coding-tree builder: speed and quality against the reference's golden trees.

Usage::

    python benchmarks/codingtree.py [--golden PATH] [--repeats 3] [--sizes 500 1000 2000]

Prints the median / p95 build time per golden molecule (each molecule timed ``--repeats`` times,
median kept, one process), the ratio to the reference's ``ref_ms`` stored in the golden file,
the entropy comparison (ours <= reference, bit-identical trees, worst ratio) and the time for
molecule-like graphs of the given sizes. The golden file defaults to ``$MOLOOD_GOLDEN`` or
``../shared/design/golden_coding_trees.jsonl`` relative to the repository root.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
try:
    from molood.graphs.codingtree import build_coding_tree, structural_entropy
except ModuleNotFoundError:  # a source checkout without `make install`
    sys.path.insert(0, str(ROOT))
    from molood.graphs.codingtree import build_coding_tree, structural_entropy

DEFAULT_GOLDEN = os.environ.get(
    "MOLOOD_GOLDEN", str(ROOT.parent / "shared" / "design" / "golden_coding_trees.jsonl"))


def molecule_like(n: int, seed: int = 0) -> tuple[int, np.ndarray]:
    """A random molecule-like graph: a tree of max degree 4 grown mostly from recent atoms,
    plus about n/8 ring closures between atoms 5 apart."""
    rng = np.random.default_rng(seed)
    deg = np.zeros(n, np.int64)
    edges = []
    for i in range(1, n):
        while True:
            j = i - 1 - min(int(rng.geometric(0.3)) - 1, i - 1)
            if deg[j] < 4:
                break
        edges.append((j, i))
        deg[[i, j]] += 1
    present = set(edges)
    for _ in range(n // 8):
        i = int(rng.integers(0, n - 5))
        j = i + 5
        if deg[i] < 4 and deg[j] < 4 and (i, j) not in present:
            edges.append((i, j))
            present.add((i, j))
            deg[[i, j]] += 1
    return n, np.asarray(edges, np.int64)


def _time(n: int, edges, repeats: int) -> tuple[float, object]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        tree = build_coding_tree(n, edges, 5)
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times)), tree


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--golden", default=DEFAULT_GOLDEN, help="golden_coding_trees.jsonl")
    ap.add_argument("--repeats", type=int, default=3, help="timings per graph (median kept)")
    ap.add_argument("--sizes", type=int, nargs="*", default=[500, 1000, 2000],
                    help="atoms of the molecule-like scaling graphs")
    args = ap.parse_args()

    with open(args.golden) as fh:
        rows = [json.loads(line) for line in fh]
    build_coding_tree(6, [(i, (i + 1) % 6) for i in range(6)])  # warm-up
    ms, ratios = [], []
    identical = not_worse = 0
    for r in rows:
        t, tree = _time(r["num_nodes"], r["edges"], args.repeats)
        ms.append(t)
        identical += (list(tree.layer_sizes) == r["layer_sizes"]
                      and [p.tolist() for p in tree.parents] == r["parents"])
        h = structural_entropy(tree, r["num_nodes"], r["edges"])
        not_worse += h <= r["entropy"] + 1e-9
        ratios.append(h / r["entropy"])
    ms, ref = np.asarray(ms), np.asarray([r["ref_ms"] for r in rows])
    n = len(rows)
    print(f"golden file: {args.golden} ({n} molecules, k=5, {args.repeats} repeats each)")
    print(f"build time per molecule: median {np.median(ms):.3f} ms, "
          f"p95 {np.percentile(ms, 95):.3f} ms, max {ms.max():.3f} ms")
    print(f"reference (numba) ref_ms from file: median {np.median(ref):.3f} ms, "
          f"p95 {np.percentile(ref, 95):.3f} ms")
    print(f"speed-up of medians: {np.median(ref) / np.median(ms):.1f}x; per-molecule "
          f"ref_ms/ours median {np.median(ref / ms):.1f}x")
    print(f"entropy <= reference (+1e-9): {not_worse}/{n} ({100 * not_worse / n:.1f}%); "
          f"bit-identical trees: {identical}/{n}; max entropy ratio ours/ref "
          f"{max(ratios):.6f}")
    for size in args.sizes:
        g = molecule_like(size)
        t, tree = _time(*g, repeats=args.repeats)
        print(f"molecule-like graph n={size} m={len(g[1])}: {t:.1f} ms "
              f"(layers {list(tree.layer_sizes)})")


if __name__ == "__main__":
    main()
