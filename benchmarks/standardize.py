"""What standardisation costs the featurizer.

    python benchmarks/standardize.py --input ../shared/data/screening/moses_test.csv.gz --n 20000

Takes the first N SMILES of the library and, batch by batch (1,000 molecules, the variants
alternating per batch so that load from other processes hits all alike), times
``molood.chem.features.smiles_to_arrays``:

* ``as written``:       no standardisation (models from before it; the bundled model),
* ``as written+smiles`` the same plus the canonical SMILES of each molecule (what such a model
  pays for a screen's ``molood_smiles`` column),
* ``standardised``:     the default standardisation (isotopes, cleanup, largest fragment,
  neutralise) and canonical atom order; the SMILES comes with it.

Each variant runs on the SMILES as given and on the same molecules written from a random atom
order (``--shuffled``, a library that is not RDKit-canonical: the canonical re-parse cannot be
skipped there), and a naive version on the SMILES as given: RDKit's functions on every
molecule, without molood's shortcuts (``_naive``).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem.MolStandardize import rdMolStandardize

from molood.chem.features import smiles_to_arrays
from molood.chem.standardize import Standardizer
from molood.io.readers import read_batches


def _shuffled(smiles: list[str], seed: int = 0) -> list[str]:
    """The same molecules written from a random atom order (not RDKit-canonical)."""
    rng = np.random.RandomState(seed)
    out = []
    with rdBase.BlockLogs():
        for s in smiles:
            m = Chem.MolFromSmiles(s)
            if m is None:
                out.append(s)
                continue
            order = rng.permutation(m.GetNumAtoms()).tolist()
            out.append(Chem.MolToSmiles(Chem.RenumberAtoms(m, order), canonical=False))
    return out


_LFC = rdMolStandardize.LargestFragmentChooser()
_UNCHARGER = rdMolStandardize.Uncharger(canonicalOrder=True)


def _naive(batch: list[str]) -> Any:
    """The default standardisation without molood's shortcuts: RDKit's functions on every
    molecule (IsotopeParent, Cleanup, LargestFragmentChooser, Uncharger), then the canonical
    SMILES featurized."""
    out = []
    with rdBase.BlockLogs():
        for s in batch:
            m = Chem.MolFromSmiles(s)
            if m is None:
                continue
            m = Chem.RemoveHs(rdMolStandardize.IsotopeParent(m, skipStandardize=True))
            m = _UNCHARGER.uncharge(_LFC.choose(rdMolStandardize.Cleanup(m)))
            out.append(Chem.MolToSmiles(m))
    return smiles_to_arrays(out)


def _time(variants: dict[str, Callable[[list[str]], Any]], batches: list[list[str]]
          ) -> dict[str, float]:
    spent = dict.fromkeys(variants, 0.0)
    gc.collect()
    for batch in batches:
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn(batch)
            spent[name] += time.perf_counter() - t0
    return spent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True, help="a library file (SMILES column found)")
    ap.add_argument("--n", type=int, default=20_000, help="molecules (the first N)")
    ap.add_argument("--batch-size", type=int, default=1000)
    args = ap.parse_args(argv)

    smiles = next(iter(read_batches(args.input, batch_size=args.n))).smiles  # the first N
    n = len(smiles)
    std = Standardizer()
    variants = {
        "as written": lambda b: smiles_to_arrays(b),
        "as written+smiles": lambda b: smiles_to_arrays(b, smiles_out=[]),
        "standardised": lambda b: smiles_to_arrays(b, standardizer=std),
    }
    smiles_to_arrays(smiles[:50], standardizer=std)  # warm-up: imports, RDKit singletons
    rows = []
    for label, data in (("as given", smiles), ("shuffled", _shuffled(smiles))):
        with rdBase.BlockLogs():
            canonical = sum(Chem.MolToSmiles(m) == s for s in data
                            if (m := Chem.MolFromSmiles(s)) is not None)
        batches = [data[i:i + args.batch_size] for i in range(0, n, args.batch_size)]
        spent = _time(variants, batches)
        rows.append((label, canonical, spent))
    naive = _time({"naive": _naive}, [smiles[i:i + args.batch_size]
                                      for i in range(0, n, args.batch_size)])["naive"]

    print(f"input  {args.input}  ({n} SMILES, batches of {args.batch_size})")
    for label, canonical, spent in rows:
        base = spent["as written"]
        print(f"\n{label}: {canonical} of {n} already RDKit-canonical SMILES")
        for name, t in spent.items():
            print(f"  {name:18s} {n / t:8.0f} mol/s  {t / n * 1e6:6.1f} us/mol  "
                  f"x{t / base:4.2f} of 'as written'")
    print(f"\nas given, RDKit's functions on every molecule (no shortcuts): {n / naive:8.0f} "
          f"mol/s  {naive / n * 1e6:6.1f} us/mol  x{naive / rows[0][2]['as written']:4.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
