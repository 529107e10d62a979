"""``molood audit``: find the molecules of one's own collection that do not belong.

Calls :func:`molood.audit.audit_file`: K-fold cross-fitting, so every molecule is scored by a
model that never saw it. torch, DGL and RDKit are imported inside the command only.
"""

from __future__ import annotations

import click

from molood.cli.main import (
    INPUT_FILE,
    errors,
    quiet_option,
    report,
    setup_logging,
    smiles_col_option,
)

__all__ = ["audit"]


@click.command()
@click.argument("collection", type=INPUT_FILE)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Output file; format by extension: .parquet, .csv[.gz], .tsv[.gz], .sdf.")
@click.option("-k", "--folds", type=click.IntRange(min=2), default=5, show_default=True,
              help="Cross-fitting folds: each fold is scored by a model trained on the others.")
@click.option("--detector", type=click.Choice(["hybrid", "sego"]), default="hybrid",
              show_default=True,
              help="Fold models: 'hybrid' (nearest members, descriptors, atom-type rules; "
                   "seconds for thousands of molecules) or 'sego' (minutes).")
@click.option("--epochs", type=click.IntRange(min=1), default=100, show_default=True,
              help="[sego] Training epochs per fold model (SEGO's paper uses 400; 100 keeps an "
                   "audit of a few thousand molecules within minutes).")
@click.option("--fpr", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05,
              show_default=True, help="Flag rate among typical members (molood_is_ood = "
                                      "p-value <= fpr).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seeds the fold assignment and every fold model.")
@smiles_col_option
@quiet_option("No progress messages and no summary line.")
@errors
def audit(collection: str, output: str, folds: int, detector: str, epochs: int, fpr: float,
          seed: int, smiles_col: str | None, quiet: bool) -> None:
    """Score every molecule of COLLECTION against the rest of it and write OUTPUT.

    Before training a QSAR model, find the members that do not belong: mis-drawn structures,
    reagents, metal complexes, mixtures. OUTPUT holds every input row once, in input order,
    with all input columns followed by:

    \b
      molood_score       anomaly score, higher = belongs less (fold-standardised)
      molood_pvalue      conformal p-value vs held-out members (small = misfit)
      molood_is_ood      true when p-value <= fpr (empty when not scored)
      molood_status      "ok", or why the row was not scored
      molood_reason      chemistry rules that explain a misfit (mixture, metal, ...),
                         else the fold model's reason for a flagged member
      molood_fold        the fold whose model scored the row
      molood_nearest_row / _smiles / _similarity
                         the most similar other member (0-based row, Tanimoto)

    \b
    Examples:
      molood audit my_training_set.csv -o audited.parquet
      molood audit compounds.sdf -o audited.sdf --folds 10 --fpr 0.01
    """
    from molood.audit import audit_file

    setup_logging(quiet)
    summary = audit_file(collection, output, smiles_col=smiles_col, folds=folds,
                         detector=detector, epochs=epochs, fpr=fpr, seed=seed)
    report(str(summary), quiet=quiet)
