"""``python -m molood.cli.demo`` (``make demo``): screen the bundled ChEMBL approved drugs.

Screens ``data/chembl_approved_drugs.parquet`` (2,628 approved drugs, see ``data/NOTICE``) with
the bundled default model (trained on FreeSolv, small neutral molecules) into
``out/demo_screen.parquet``, then prints the run summary and the 10 molecules the model finds
most out-of-distribution. Takes well under a minute on one core.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]
LIBRARY = REPO / "data" / "chembl_approved_drugs.parquet"


def _trunc(text: object, width: int) -> str:
    s = "" if text is None else str(text)
    return s if len(s) <= width else s[: width - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m molood.cli.demo", description=__doc__.split("\n")[0])
    ap.add_argument("--input", default=str(LIBRARY), help="library to screen [%(default)s]")
    ap.add_argument("--output", default="out/demo_screen.parquet", help="[%(default)s]")
    ap.add_argument("--model", default=None, help="model file [bundled default]")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--top", type=int, default=10)
    args = ap.parse_args(argv)

    import pandas as pd

    import molood

    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    summary = molood.screen(args.input, args.output, model=args.model, workers=args.workers,
                            progress=True)
    print(f"molood {molood.__version__} demo: screened {args.input}")
    print(f"  model   {summary.model_path} (sha256 {summary.model_sha256[:12]}…)")
    print(f"  result  {summary}")
    print(f"  threshold at fpr {summary.fpr:g}: score > {summary.threshold:.3f}")
    df = pd.read_parquet(args.output)
    name_col = next((c for c in ("pref_name", "name", "_Name", "molecule_chembl_id", "id")
                     if c in df.columns), None)
    smiles_col = next((c for c in df.columns if c.lower() in ("smiles", "canonical_smiles")),
                      None)
    top = df[df["molood_status"] == "ok"].nlargest(args.top, "molood_score")
    print(f"\n{args.top} most out-of-distribution molecules (higher score = more OOD):")
    print(f"{'rank':>4}  {'name':<28} {'smiles':<48} {'score':>8} {'p-value':>8}")
    for rank, (_, row) in enumerate(top.iterrows(), 1):
        name = _trunc(row[name_col] if name_col else "", 28)
        smi = _trunc(row[smiles_col] if smiles_col else "", 48)
        print(f"{rank:>4}  {name:<28} {smi:<48} {row['molood_score']:>8.2f} "
              f"{row['molood_pvalue']:>8.4f}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
