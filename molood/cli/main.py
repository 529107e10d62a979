"""``molood`` command line: ``train``, ``screen`` and ``info``.

A thin layer over the Python API (:func:`molood.screening.engine.screen`,
:func:`molood.train.train_file`, :func:`molood.persist.read_manifest`): it parses options,
configures logging (the only place that does), and turns the library's exceptions into one-line
error messages with a non-zero exit status. Data goes to files or stdout; progress bars,
summaries and messages go to stderr.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from typing import Any, Callable

import click

__all__ = ["main"]

EXIT_INTERRUPTED = 130


def _setup_logging(quiet: bool) -> None:
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, stream=sys.stderr,
                        format="molood: %(message)s", force=True)
    for noisy in ("dgl", "torch"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Library exceptions -> click errors (one line, exit 1); Ctrl-C -> exit 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from molood.io.readers import MoloodInputError

        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except KeyboardInterrupt:
            click.echo("molood: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except FileNotFoundError as exc:
            raise click.ClickException(str(exc.args[0] if len(exc.args) == 1 else exc)) from exc
        except MoloodInputError as exc:
            raise click.ClickException(str(exc)) from exc
        except Exception as exc:  # model/resume errors; anything else is a bug: traceback
            from molood.persist import MoloodModelError
            from molood.screening.workdir import MoloodResumeError

            if isinstance(exc, (MoloodModelError, MoloodResumeError, ValueError)):
                raise click.ClickException(str(exc)) from exc
            raise

    return wrapper


_INPUT = click.Path(dir_okay=False, path_type=str)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="molood", prog_name="molood")
def main() -> None:
    """molood: molecular out-of-distribution screening with SEGO.

    Train a detector on in-distribution molecules, then screen libraries of any size against
    it. Scores are "higher = more out-of-distribution" everywhere.

    \b
    Examples:
      molood train data/freesolv.csv -o freesolv.molood --seed 0
      molood screen library.csv.gz -o scores.parquet --workers 4
      molood info freesolv.molood
    """


# ----------------------------------------------------------------------------- train
@main.command()
@click.argument("input", type=_INPUT)
@click.option("-o", "--output", "model_out", required=True, type=click.Path(dir_okay=False),
              help="Model file to write (.molood: safetensors + JSON manifest).")
@click.option("--smiles-col", metavar="COLUMN",
              help="SMILES column of a table [default: smiles, canonical_smiles or mol, any "
                   "case].")
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
@click.option("--largest-fragment", is_flag=True,
              help="Keep only the largest fragment of salts/mixtures (stored in the model and "
                   "used when screening with it).")
@click.option("-j", "--jobs", type=int, default=1, show_default=True,
              help="Processes for coding-tree construction (-1 = all cores).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or messages.")
@_errors
def train(input: str, model_out: str, smiles_col: str | None, epochs: int, seed: int,
          mode: str, alpha: float, batch_size: int, val_fraction: float,
          largest_fragment: bool, jobs: int, quiet: bool) -> None:
    """Train a SEGO detector on the in-distribution molecules in INPUT.

    INPUT is a .parquet, .csv[.gz], .tsv[.gz], .smi or .sdf[.gz] file. Unparseable rows are
    skipped (with a warning). A share of the molecules (--val-fraction) is held out to
    calibrate conformal p-values. The model file records the training set, versions,
    hyperparameters and calibration; see `molood info`.

    \b
    Example (this rebuilds the bundled default model, about 1-2 minutes on one core):
      molood train data/freesolv.csv -o molood/models/default.molood --seed 0
    """
    import time
    import warnings

    from molood.train import train_file

    _setup_logging(quiet)
    t0 = time.perf_counter()
    fit_log = logging.getLogger("molood.detectors.sego.detector")
    level = fit_log.level
    fit_log.setLevel(logging.WARNING)  # its fit summary would repeat the one printed below
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            det = train_file(input, model_out, smiles_col=smiles_col, epochs=epochs, seed=seed,
                             mode=mode, alpha=alpha, batch_size=batch_size,
                             val_fraction=val_fraction, largest_fragment=largest_fragment,
                             n_jobs=jobs, verbose=not quiet)
    finally:
        fit_log.setLevel(level)
    if not quiet:
        for w in caught:
            click.echo(f"molood: {w.message}", err=True)
        click.echo(f"molood: trained on {det.n_train_:,} molecules ({det.n_val_:,} held out "
                   f"for calibration), {epochs} epochs in {time.perf_counter() - t0:.1f} s "
                   f"-> {model_out}", err=True)


# ----------------------------------------------------------------------------- screen
@main.command()
@click.argument("input", type=_INPUT)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Output file; format by extension: .parquet, .csv[.gz], .tsv[.gz], .sdf.")
@click.option("-m", "--model", type=click.Path(dir_okay=False),
              help="Model file from `molood train` [default: the bundled FreeSolv model].")
@click.option("--smiles-col", metavar="COLUMN",
              help="SMILES column of a table [default: smiles, canonical_smiles or mol, any "
                   "case].")
@click.option("-n", "--workers", type=int, default=1, show_default=True,
              help="Processes for parsing, featurizing and scoring (-1 = all cores).")
@click.option("-b", "--batch-size", type=click.IntRange(min=1), default=None,
              help="Rows per chunk: the unit of streaming, memory and --resume; scores do "
                   "not depend on it [default: 10000; with --resume, the interrupted run's].")
@click.option("--fpr", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.05, show_default=True,
              help="In-distribution false-positive rate that sets molood_is_ood "
                   "(flag = p-value <= fpr).")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run into the same OUTPUT (same input, model and "
                   "options); the result equals an uninterrupted run.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary line.")
@_errors
def screen(input: str, output: str, model: str | None, smiles_col: str | None, workers: int,
           batch_size: int | None, fpr: float, resume: bool, quiet: bool) -> None:
    """Score every molecule of INPUT and write the rows with their scores to OUTPUT.

    INPUT is a .parquet, .csv[.gz], .tsv[.gz], .smi[.gz] or .sdf[.gz] file; it is streamed
    in chunks, so memory stays flat whatever its size. OUTPUT holds every input row once, in
    input order, with all input columns followed by:

    \b
      molood_score   OOD score, higher = more OOD (empty when not scored)
      molood_pvalue  conformal p-value vs held-out ID molecules (small = OOD)
      molood_is_ood  true when p-value <= --fpr (empty when not scored)
      molood_status  "ok", or why the row was not scored ("empty",
                     "invalid_smiles: <RDKit message>", "sdf_parse_error: ...")

    Parquet output also stores the model path and SHA-256, molood version, fpr and threshold
    in its key-value metadata; SD output keeps each record and adds the scores as SD
    properties. Invalid rows do not make the run fail (exit status 0).

    The output appears only when the run completes. Finished chunks are kept in
    OUTPUT.molood-parts/ until then, so a run stopped by Ctrl-C (exit status 130), a kill or
    a crash continues with --resume.

    \b
    Examples:
      molood screen library.csv.gz -o scores.parquet
      molood screen library.sdf -o scores.sdf --model my.molood --workers 4 --fpr 0.01
      molood screen library.csv.gz -o scores.parquet --resume
    """
    from molood._parallel import resolve_n_jobs, start_forkserver

    if resolve_n_jobs(workers) > 1:  # the workers' imports overlap with this process's work
        start_forkserver()
    from molood.screening.engine import screen as run_screen

    _setup_logging(quiet)
    summary = run_screen(input, output, model=model, smiles_col=smiles_col, workers=workers,
                         batch_size=batch_size, fpr=fpr, resume=resume, progress=not quiet)
    if not quiet:
        click.echo(f"molood: {summary}", err=True)


# ----------------------------------------------------------------------------- info
def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def _describe(path: str, manifest: dict[str, Any], sha: str, size: int) -> str:
    v = manifest.get("versions") or {}
    ts = manifest.get("training_set") or {}
    cal = manifest.get("calibration") or {}
    tt = manifest.get("training_time_s") or {}
    feat = manifest.get("featurizer") or {}
    params = manifest.get("params") or {}
    hist = manifest.get("history") or []

    def num(x: Any, spec: str = ".4g") -> str:
        return "-" if x is None else format(x, spec) if isinstance(x, (int, float)) else str(x)

    thr = cal.get("threshold")
    lines = [
        f"model          {path}",
        f"sha256         {sha}",
        f"size           {_fmt_bytes(size)}",
        f"format         {manifest.get('format')} v{manifest.get('format_version')}, "
        f"{manifest.get('detector', '?')}, mode {manifest.get('mode')!s}, "
        f"seed {manifest.get('seed')!s}",
        "written by     " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "",
        "training set",
        f"  molecules    {num(ts.get('n_fit'), ',')} ({num(ts.get('n_train'), ',')} trained on, "
        f"{num(ts.get('n_val'), ',')} held out)",
        f"  smiles sha256  {ts.get('smiles_sha256') or '-'}",
        f"  graphs sha256  {ts.get('graphs_sha256') or '-'}",
        f"  time         {num(tt.get('total'), '.1f')} s (training {num(tt.get('train'), '.1f')} "
        f"s, coding trees {num(tt.get('trees'), '.1f')} s)",
        "",
        "calibration",
        f"  held-out ID scores  {num(cal.get('n_cal'))} ({cal.get('source', '-')})",
        f"  default fpr  {num(cal.get('fpr'))}, threshold "
        f"{num(thr) if thr is not None else 'inf (fpr below 1/(n_cal+1): nothing is flagged)'}",
        "  z-score stats  " + ", ".join(f"{k} {num(x)}" for k, x in
                                        (cal.get("stats") or {}).items()),
        "",
        "featurizer     " + ", ".join(f"{k} {val}" for k, val in feat.items()),
        "hyperparameters",
    ]
    shown = {k: val for k, val in params.items() if k not in ("verbose", "tree_cache")}
    keys = list(shown)
    for i in range(0, len(keys), 4):
        lines.append("  " + "  ".join(f"{k}={shown[k]}" for k in keys[i:i + 4]))
    if hist:
        last = hist[-1]
        losses = ", ".join(f"{k} {num(val)}" for k, val in last.items()
                           if k.startswith("loss"))
        lines.append(f"last epoch     {last.get('epoch', len(hist))}: {losses}")
    return "\n".join(lines)


@main.command()
@click.argument("model", required=False, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True,
              help="Print the whole manifest as JSON (plus path, sha256 and size_bytes).")
@_errors
def info(model: str | None, as_json: bool) -> None:
    """Describe a model file: training set, calibration, hyperparameters and versions.

    MODEL defaults to the bundled model. Reading a model's manifest never executes code from
    the file and does not load torch.

    \b
    Examples:
      molood info
      molood info my.molood --json | jq .calibration
    """
    from molood.persist import default_model_path, read_manifest
    from molood._fs import file_sha256

    path = model if model is not None else str(default_model_path())
    if not os.path.isfile(path):
        raise click.ClickException(f"model file not found: {path}" + (
            "" if model is not None else " (build the bundled model with `make model`)"))
    manifest = read_manifest(path)
    sha, size = file_sha256(path), os.path.getsize(path)
    if as_json:
        click.echo(json.dumps({"path": path, "sha256": sha, "size_bytes": size, **manifest},
                              indent=2))
    else:
        click.echo(_describe(path, manifest, sha, size))


if __name__ == "__main__":  # pragma: no cover
    main()
