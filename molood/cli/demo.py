"""``molood demo`` (``make demo``): screen the bundled ChEMBL approved drugs and show the most
out-of-distribution ones.

Screens ``data/chembl_approved_drugs.parquet`` of the repository (2,628 approved drugs, see
``data/NOTICE``) with the bundled default model (trained on FreeSolv, small neutral molecules)
into ``out/demo_screen.parquet``, then prints the run summary and the molecules the model finds
most out-of-distribution. A first look at what molood does, in well under a minute on one
core; the same as ``molood screen`` plus a ranking.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from molood.cli.main import errors
from molood.screening.summary import plural

__all__ = ["demo", "LIBRARY", "DEFAULT_OUTPUT"]

REPO = Path(__file__).resolve().parents[2]
#: the bundled demo library (a source checkout's data/ folder)
LIBRARY = REPO / "data" / "chembl_approved_drugs.parquet"
DEFAULT_OUTPUT = "out/demo_screen.parquet"


def _trunc(text: object, width: int) -> str:
    s = "" if text is None else str(text)
    return s if len(s) <= width else s[: width - 1] + "…"


def _ranking(df: Any, top: int) -> list[str]:
    """The ``top`` highest-scoring rows of a screened frame as table lines (name, SMILES,
    score, p-value and, for hybrid models, the reason), named by the first name-like column
    present."""
    name_col = next((c for c in ("pref_name", "name", "_Name", "molecule_chembl_id", "id")
                     if c in df.columns), None)
    smiles_col = next((c for c in df.columns if c.lower() in ("smiles", "canonical_smiles")),
                      None)
    best = df[df["molood_status"] == "ok"].nlargest(top, "molood_score")
    reason = "molood_reason" in df.columns
    lines = [f"{'rank':>4}  {'name':<24} {'smiles':<36} {'score':>8} {'p-value':>8}"
             + ("  reason" if reason else "")]
    for rank, (_, row) in enumerate(best.iterrows(), 1):
        name = _trunc(row[name_col] if name_col else "", 24)
        smi = _trunc(row[smiles_col] if smiles_col else "", 36)
        why = row["molood_reason"] if reason and isinstance(row["molood_reason"], str) else ""
        lines.append((f"{rank:>4}  {name:<24} {smi:<36} {row['molood_score']:>8.2f} "
                      f"{row['molood_pvalue']:>8.4f}" + (f"  {why}" if why else "")).rstrip())
    return lines


@click.command()
@click.option("--input", "input_", type=click.Path(dir_okay=False), default=str(LIBRARY),
              help="Library to screen, in any format `molood screen` reads [default: "
                   "data/chembl_approved_drugs.parquet of the source checkout].")
@click.option("--output", type=click.Path(dir_okay=False), default=DEFAULT_OUTPUT,
              show_default=True,
              help="Screened output; its directory is created if missing.")
@click.option("--model", type=click.Path(dir_okay=False), default=None,
              help="Model file [default: the bundled FreeSolv model (hybrid detector)].")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Processes for screening (-1 = all cores).")
@click.option("--top", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many of the most out-of-distribution molecules to list.")
@errors
def demo(input_: str, output: str, model: str | None, workers: int, top: int) -> None:
    """Screen the bundled ChEMBL approved drugs and list the most out-of-distribution ones.

    Screens --input (default: the 2,628 approved drugs in data/, see data/NOTICE) with the
    bundled default model, trained on FreeSolv (small neutral molecules), or --model. Writes
    every row with its scores to --output (as `molood screen` does, at the model's default
    fpr), then prints to stdout the model, the run summary, the flag threshold and the --top
    molecules with the highest OOD scores. Well under a minute on one core.

    \b
    Examples:
      molood demo                         # what `make demo` runs
      molood demo --top 20 --workers 4
      molood demo --input my_library.csv --output out/mine.parquet --model my.molood
    """
    import pandas as pd

    import molood

    Path(output).parent.mkdir(parents=True, exist_ok=True)
    summary = molood.screen(input_, output, model=model, workers=workers, progress=True)
    click.echo(f"molood {molood.__version__} demo: screened {input_}")
    click.echo(f"  model   {summary.model_path} (sha256 {summary.model_sha256[:12]}…)")
    click.echo(f"  result  {summary}")
    click.echo(f"  threshold at fpr {summary.fpr:g}: score > {summary.threshold:.3f}")
    click.echo(f"\n{plural(top, 'most out-of-distribution molecule')} (higher score = more "
               f"OOD):")
    for line in _ranking(pd.read_parquet(output), top):
        click.echo(line)
