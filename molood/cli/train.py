"""``molood train``: fit an OOD detector (hybrid by default, or SEGO) on a file of
in-distribution molecules.

Calls :func:`molood.train.train_file`; every option is a detector parameter and is
stored in the model file, ``--fpr`` included: it becomes the model's default false-positive
rate, the one ``molood screen`` uses when it is given no ``--fpr``.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from typing import Any

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


class _Duration(click.ParamType):
    """Seconds, or a number followed by s, m or h."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        text = str(value).strip().lower()
        scale = {"s": 1, "m": 60, "h": 3600}.get(text[-1:], None)
        try:
            seconds = float(text[:-1] if scale else text) * (scale or 1)
        except ValueError:
            self.fail(f"{value!r} is not a duration (e.g. 900, 45m, 2h)", param, ctx)
        if seconds <= 0:
            self.fail(f"{value!r}: a duration must be positive", param, ctx)
        return seconds


def _checkpoint_seconds() -> float:
    """Seconds between two SEGO training checkpoints (environment:
    ``MOLOOD_CHECKPOINT_SECONDS``, default 300)."""
    return float(os.environ.get("MOLOOD_CHECKPOINT_SECONDS", "300"))

_SEGO_ONLY = ("mode", "largest_fragment")
"""Options of the SEGO detector alone (the hybrid detector standardises as --standardize says
and scores SEGO's default mode)."""
_SEGO_PART = ("alpha", "batch_size", "val_fraction")
"""SEGO options the hybrid detector passes to its SEGO part (``sego_params``)."""
_HYBRID_ONLY = ("components", "k", "calibration_size", "neighbors_size", "neighbors_index")


@click.command()
@click.argument("input", type=INPUT_FILE)
@click.option("-o", "--output", "model_out", required=True, type=click.Path(dir_okay=False),
              help="Model file to write (.molood: safetensors + JSON manifest).")
@smiles_col_option
@click.option("--detector", type=click.Choice(["hybrid", "sego"]), default="hybrid",
              show_default=True,
              help="'hybrid': SEGO beside nearest neighbours, descriptors and atom-type rules, "
                   "fused into one calibrated score with a reason per flagged molecule; "
                   "'sego': the SEGO score alone (paper reproduction).")
@click.option("--components", default="auto", show_default=True, metavar="LIST",
              help="[hybrid] Evidence to fuse, comma-separated, from knn, descriptors, "
                   "environments, embedding, sego. 'auto' = knn,descriptors for molecules "
                   "(chosen on development data; see README).")
@click.option("--k", "k", type=click.IntRange(min=1), default=5, show_default=True,
              help="[hybrid] Nearest training molecules averaged by the knn evidence.")
@click.option("--calibration-size", type=click.IntRange(min=1), default=10_000,
              show_default=True,
              help="[hybrid] Most training molecules scored leave-one-out for calibration.")
@click.option("--neighbors-size", type=click.IntRange(min=1), default=None,
              help="[hybrid] Most training molecules kept for neighbour searches and "
                   "nearest-molecule evidence (a seeded sample above it). Default: all.")
@click.option("--neighbors-index", type=click.Choice(["auto", "exact", "hnsw"]),
              default="auto", show_default=True,
              help="[hybrid] Neighbour search: exact, or a HNSW graph (approximate, fast for "
                   "millions); 'auto' = exact up to 50,000 molecules, HNSW above.")
@click.option("--epochs", type=click.IntRange(min=1), default=400, show_default=True,
              help="SEGO training epochs (the hybrid's SEGO part: at most).")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Cap on SEGO optimiser steps (epochs are cut to fit). Default: 25,600 for "
                   "--detector sego (sets of up to 8,192 molecules run all 400 epochs), "
                   "2000 for the hybrid's SEGO part.")
@click.option("--time-budget", type=_Duration(), default=None, metavar="DURATION",
              help="Start no SEGO epoch that would not end within it, e.g. 45m, 2h, 900 "
                   "(seconds). The model then depends on the machine's speed; `molood info` "
                   "shows the epochs run.")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted training from OUTPUT.ckpt, the checkpoint SEGO "
                   "training writes every 5 minutes: same model as an uninterrupted run.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seeds every random choice (splits, samples, initialisation, shuffling).")
@click.option("--mode", type=click.Choice(["default", "faithful"]), default="default",
              show_default=True,
              help="[sego] 'default': the method as the SEGO paper describes it; 'faithful': "
                   "as the authors' code does it (frozen tree encoder, code's score).")
@click.option("--alpha", type=float, default=0.5, show_default=True,
              help="SEGO's adaptive loss-weighting strength (0 switches adaptiveness off).")
@click.option("--batch-size", type=click.IntRange(min=2), default=128, show_default=True,
              help="SEGO training batch size in molecules (in-batch negatives = size - 1).")
@click.option("--val-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.1,
              show_default=True,
              help="Share of molecules SEGO holds out of training to calibrate on.")
@click.option("--fpr", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=DEFAULT_FPR, show_default=True,
              help="Default in-distribution false-positive rate stored in the model: "
                   "`molood screen` flags at it unless given its own --fpr. A warning says so "
                   "if it is below what the calibration set resolves.")
@click.option("--standardize", "standardize", default="default", show_default=True,
              callback=_check_standardize, metavar="SPEC",
              help="How every molecule is standardised before training and, with this model, "
                   "screening (stored in the model): 'default' = remove isotopes, RDKit "
                   "cleanup, largest fragment, neutralise; 'none' = no chemical change; or "
                   "steps, e.g. 'default,tautomer', 'default,-neutralize'. Any choice scores "
                   "canonical atom order (any spelling of a molecule, the same score).")
@click.option("--largest-fragment", "largest_fragment", flag_value=True, default=None,
              help="[sego] Keep only the largest fragment of salts and mixtures, whatever "
                   "--standardize says.")
@click.option("--all-fragments", "largest_fragment", flag_value=False,
              help="[sego] Keep every fragment, whatever --standardize says.")
@click.option("-j", "--jobs", type=int, default=1, show_default=True,
              help="Processes for reading the molecules (hybrid) and for coding trees (SEGO); "
                   "-1 = all cores. The model does not depend on it.")
@quiet_option("No progress bar or messages.")
@click.pass_context
@errors
def train(ctx: click.Context, input: str, model_out: str, smiles_col: str | None,
          detector: str, components: str, k: int, calibration_size: int,
          neighbors_size: int | None, neighbors_index: str,
          epochs: int, max_steps: int | None, time_budget: float | None, resume: bool,
          seed: int, mode: str, alpha: float,
          batch_size: int, val_fraction: float, fpr: float, standardize: str,
          largest_fragment: bool | None, jobs: int, quiet: bool) -> None:
    """Train an OOD detector on the in-distribution molecules in INPUT.

    INPUT is a .parquet, .csv[.gz], .tsv[.gz], .smi or .sdf[.gz] file. Unparseable rows are
    skipped (with a warning). The default detector ('hybrid') compares every molecule with
    its nearest training molecules and with the training set's descriptors and atom types,
    calibrated on every training molecule left out in turn; '--detector sego' trains SEGO
    alone and holds --val-fraction out to calibrate. The model file (OUTPUT) records the
    training set, versions, hyperparameters, calibration, the standardisation and the default
    --fpr; see `molood info`. Options marked [hybrid] or [sego] apply to that detector only.

    \b
    Examples:
      # rebuild the bundled default model (a few seconds)
      molood train data/freesolv.csv -o molood/models/default.molood --seed 0
      # a model that flags 1% of in-distribution molecules by default
      molood train actives.sdf -o actives.molood --fpr 0.01
      # SEGO alone, as the paper describes it
      molood train data/freesolv.csv -o sego.molood --detector sego --jobs -1
      # millions of molecules, read by every core (MOSES' 1.58M: ~10 min on 2)
      molood train collection.csv.gz -o big.molood --jobs -1
      # continue a killed SEGO training from big.molood.ckpt
      molood train collection.csv.gz -o big.molood --detector sego --resume
    """
    from molood.train import train_file

    given = {name for name in ctx.params
             if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT}
    wrong = [n for n in (_HYBRID_ONLY if detector == "sego" else _SEGO_ONLY) if n in given]
    if wrong:
        raise click.UsageError(f"{', '.join('--' + n.replace('_', '-') for n in wrong)} "
                               f"do(es) not apply to --detector {detector}")
    ckpt = model_out + ".ckpt"
    if os.path.exists(ckpt) and not resume:
        click.echo(f"molood: {ckpt} is the checkpoint of an interrupted training; starting "
                   "over (pass --resume to continue from it)", err=True)
    elif resume and not os.path.exists(ckpt):
        click.echo(f"molood: no checkpoint {ckpt} to resume from; training from the start",
                   err=True)
    common = dict(seed=seed, fpr=fpr, standardize=standardize, n_jobs=jobs,
                  verbose=not quiet, epochs=epochs, checkpoint=ckpt, resume=resume)
    if detector == "sego":
        params = dict(common, mode=mode, alpha=alpha, batch_size=batch_size,
                      val_fraction=val_fraction, largest_fragment=largest_fragment,
                      time_budget=time_budget, checkpoint_every=_checkpoint_seconds())
    else:
        sego_part = {n: ctx.params[n] for n in _SEGO_PART if n in given}
        if time_budget is not None:
            sego_part["time_budget"] = time_budget
        params = dict(common, components=components, k=k, calibration_size=calibration_size,
                      neighbors_size=neighbors_size, neighbors_index=neighbors_index,
                      sego_params=sego_part or None)
    if max_steps is not None:
        params["max_steps"] = max_steps
    setup_logging(quiet)
    t0 = time.perf_counter()
    fit_log = logging.getLogger(f"molood.detectors.{detector}.detector")
    level = fit_log.level
    fit_log.setLevel(logging.WARNING)  # its fit summary would repeat the one printed below
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            det = train_file(input, model_out, smiles_col=smiles_col, detector=detector,
                             **params)
            det.warn_fpr_resolution(det.fpr_, "molood train")
    finally:
        fit_log.setLevel(level)
    for w in caught:  # shown even with --quiet when nothing could ever be flagged
        if not quiet or "NOTHING CAN BE FLAGGED" in str(w.message):
            click.echo(f"molood: {w.message}", err=True)
    if quiet:
        return
    seconds = time.perf_counter() - t0
    if detector == "sego":
        click.echo(f"molood: trained SEGO on {det.n_train_:,} molecules ({det.n_val_:,} held "
                   f"out for calibration), {det.epochs_} epochs in {seconds:.1f} s "
                   f"-> {model_out}", err=True)
    else:
        click.echo(f"molood: trained the hybrid detector ({', '.join(det.components_)}) on "
                   f"{det.n_fit_:,} molecules, calibrated on {det.n_cal_:,} (smallest "
                   f"resolvable fpr {det.fpr_floor:.2g}), in {seconds:.1f} s -> {model_out}",
                   err=True)
