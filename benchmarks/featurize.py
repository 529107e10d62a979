"""Featurization throughput vs RDKit parse-only.

    python benchmarks/featurize.py --input ../shared/data/screening/moses_test.csv.gz --n 50000

Takes the first N rows of the library (any format molood.io.readers reads) and, batch by batch
(1,000 molecules), times

* ``parse``:     ``Chem.MolFromSmiles`` on every SMILES (the molecules are discarded),
* ``featurize``: ``molood.chem.features.smiles_to_arrays`` (parse + sanitize + the 9 OGB atom
  features + edges, with error capture) = what a screening worker does per batch,
* ``topo+leaf``: ``topo_features`` + ``leaf_features`` on the batch's GraphArrays (the batch-level
  features ``to_dgl`` adds; reported separately, not part of the ratio).

The two measurements alternate per batch, so load from other processes hits both alike. The
ratio is featurize mol/s divided by parse mol/s (target >= 0.4).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rdkit import Chem, rdBase  # noqa: E402

from molood.chem.features import smiles_to_arrays  # noqa: E402
from molood.graphs.features import leaf_features, topo_features  # noqa: E402
from molood.io.readers import read_batches  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--smiles-col", default=None)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=1, help="passes over the N molecules")
    args = ap.parse_args(argv)

    smiles: list[str] = []
    for b in read_batches(args.input, smiles_col=args.smiles_col, batch_size=10_000):
        smiles += [s for s in b.smiles]
        if len(smiles) >= args.n:
            break
    smiles = smiles[: args.n]
    n = len(smiles)
    batches = [smiles[i:i + args.batch_size] for i in range(0, n, args.batch_size)]

    # warm-up (imports, RDKit singletons, numpy)
    smiles_to_arrays(batches[0][:50])
    t_parse = t_feat = t_topo = 0.0
    n_atoms = n_valid = 0
    gc.collect()
    with rdBase.BlockLogs():
        for _ in range(args.repeats):
            for batch in batches:
                t0 = time.perf_counter()
                for s in batch:
                    Chem.MolFromSmiles(s)
                t1 = time.perf_counter()
                ga, errors = smiles_to_arrays(batch)
                t2 = time.perf_counter()
                topo_features(ga)
                leaf_features(ga)
                t3 = time.perf_counter()
                t_parse += t1 - t0
                t_feat += t2 - t1
                t_topo += t3 - t2
                n_atoms += int(ga.num_nodes.sum())
                n_valid += len(ga)
    total = n * args.repeats
    parse_rate, feat_rate, topo_rate = total / t_parse, total / t_feat, total / t_topo
    print(f"input       {args.input}  ({n} molecules x {args.repeats}, batches of "
          f"{args.batch_size}, {n_valid / args.repeats:.0f} valid, "
          f"{n_atoms / max(n_valid, 1):.1f} atoms/mol, pid {os.getpid()})")
    print(f"parse-only  {parse_rate:10.0f} mol/s   (Chem.MolFromSmiles)")
    print(f"featurize   {feat_rate:10.0f} mol/s   (smiles_to_arrays: parse + OGB x + edges)")
    print(f"ratio       {feat_rate / parse_rate:10.3f}     (featurize / parse-only; target >= 0.4)")
    print(f"topo+leaf   {topo_rate:10.0f} mol/s   (batch-level, in to_dgl; not in the ratio)")
    print(f"ratio incl. {1 / (1 / feat_rate + 1 / topo_rate) / parse_rate:10.3f}     "
          f"(featurize + topo + leaf / parse-only)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
