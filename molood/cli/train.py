"""``molood train``: fit a SEGO detector on a file of in-distribution molecules.

Calls :func:`molood.train.train_file`; every option is a detector parameter and is
stored in the model file, ``--fpr`` included: it becomes the model's default false-positive
rate, the one ``molood screen`` uses when it is given no ``--fpr``.
"""

from __future__ import annotations

import logging
import time
import warnings

import click

from molood.cli.main import INPUT_FILE, errors, quiet_option, setup_logging, smiles_col_option

__all__ = ["train", "DEFAULT_FPR"]

#: the default flag rate a new model stores (the bundled model was trained with it)
DEFAULT_FPR = 0.05


def _check_standardize(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Refuse a --standardize spec the detector would refuse, before any file is read."""
    from molood.chem.standardize import resolve_standardizer

    try:
        resolve_standardizer(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    return value


@click.command()
@click.argument("input", type=INPUT_FILE)
@click.option("-o", "--output", "model_out", required=True, type=click.Path(dir_okay=False),
              help="Model file to write (.molood: safetensors + JSON manifest).")
@smiles_col_option
@click.option("--epochs", type=click.IntRange(min=1), default=400, show_default=True,
              help="Training epochs.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seeds the held-out split, negative bank, initialisation and shuffling.")
@click.option("--mode", type=click.Choice(["default", "faithful"]), default="default",
              show_default=True,
              help="'default': the method as the SEGO paper describes it; 'faithful': as the "
                   "authors' code does it (frozen tree encoder, code's score).")
@click.option("--alpha", type=float, default=0.5, show_default=True,
              help="Adaptive loss-weighting strength (0 switches adaptiveness off).")
@click.option("--batch-size", type=click.IntRange(min=2), default=128, show_default=True,
              help="Training batch size in molecules (in-batch negatives = size - 1).")
@click.option("--val-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.1,
              show_default=True,
              help="Share of molecules held out of training to calibrate p-values and the "
                   "flag threshold.")
@click.option("--fpr", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=DEFAULT_FPR, show_default=True,
              help="Default in-distribution false-positive rate stored in the model: "
                   "`molood screen` flags at it unless given its own --fpr.")
@click.option("--standardize", "standardize", default="default", show_default=True,
              callback=_check_standardize, metavar="SPEC",
              help="How every molecule is standardised before training and, with this model, "
                   "screening (stored in the model): 'default' = remove isotopes, RDKit "
                   "cleanup, largest fragment, neutralise; 'none' = no chemical change; or "
                   "steps, e.g. 'default,tautomer', 'default,-neutralize'. Any choice scores "
                   "canonical atom order (any spelling of a molecule, the same score).")
@click.option("--largest-fragment", "largest_fragment", flag_value=True, default=None,
              help="Keep only the largest fragment of salts and mixtures, whatever "
                   "--standardize says.")
@click.option("--all-fragments", "largest_fragment", flag_value=False,
              help="Keep every fragment, whatever --standardize says.")
@click.option("-j", "--jobs", type=int, default=1, show_default=True,
              help="Processes for coding-tree construction (-1 = all cores).")
@quiet_option("No progress bar or messages.")
@errors
def train(input: str, model_out: str, smiles_col: str | None, epochs: int, seed: int,
          mode: str, alpha: float, batch_size: int, val_fraction: float, fpr: float,
          standardize: str, largest_fragment: bool | None, jobs: int, quiet: bool) -> None:
    """Train a SEGO detector on the in-distribution molecules in INPUT.

    INPUT is a .parquet, .csv[.gz], .tsv[.gz], .smi or .sdf[.gz] file. Unparseable rows are
    skipped (with a warning). A share of the molecules (--val-fraction) is held out to
    calibrate conformal p-values. The model file (OUTPUT) records the training set, versions,
    hyperparameters, calibration, the standardisation and the default --fpr; see
    `molood info`.

    \b
    Examples:
      # rebuild the bundled default model (about 1-2 minutes on one core)
      molood train data/freesolv.csv -o molood/models/default.molood --seed 0
      # a model that flags 1% of in-distribution molecules by default
      molood train actives.sdf -o actives.molood --fpr 0.01 --jobs -1
    """
    from molood.train import train_file

    setup_logging(quiet)
    t0 = time.perf_counter()
    fit_log = logging.getLogger("molood.detectors.sego.detector")
    level = fit_log.level
    fit_log.setLevel(logging.WARNING)  # its fit summary would repeat the one printed below
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            det = train_file(input, model_out, smiles_col=smiles_col, epochs=epochs, seed=seed,
                             mode=mode, alpha=alpha, batch_size=batch_size,
                             val_fraction=val_fraction, fpr=fpr, standardize=standardize,
                             largest_fragment=largest_fragment, n_jobs=jobs,
                             verbose=not quiet)
    finally:
        fit_log.setLevel(level)
    if not quiet:
        for w in caught:
            click.echo(f"molood: {w.message}", err=True)
        click.echo(f"molood: trained on {det.n_train_:,} molecules ({det.n_val_:,} held out "
                   f"for calibration), {epochs} epochs in {time.perf_counter() - t0:.1f} s "
                   f"-> {model_out}", err=True)
