"""``molood screen``: score every molecule of a library file against a model.

Calls :func:`molood.screening.engine.screen`. Without ``--fpr`` it passes ``fpr=None``, which
the library reads as "the model's stored default" (set by ``molood train --fpr``): the CLI has
no flag-rate default of its own.
"""

from __future__ import annotations

import click

from molood.chem.limits import DEFAULT_MAX_ATOMS
from molood.cli.main import INPUT_FILE, errors, quiet_option, setup_logging, smiles_col_option

__all__ = ["screen"]


@click.command()
@click.argument("input", type=INPUT_FILE)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Output file; format by extension: .parquet, .csv[.gz], .tsv[.gz], .sdf.")
@click.option("-m", "--model", type=click.Path(dir_okay=False),
              help="Model file from `molood train` [default: the bundled FreeSolv model].")
@smiles_col_option
@click.option("-n", "--workers", type=int, default=1, show_default=True,
              help="Processes for parsing, featurizing and scoring (-1 = all cores).")
@click.option("-b", "--batch-size", type=click.IntRange(min=1), default=None,
              help="Rows per chunk: the unit of streaming, memory and --resume; scores do "
                   "not depend on it [default: 10000; with --resume, the interrupted run's].")
@click.option("--fpr", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=None,
              help="In-distribution false-positive rate that sets molood_is_ood "
                   "(flag = p-value <= fpr) [default: the model's, set by `molood train "
                   "--fpr`; 0.05 for the bundled model].")
@click.option("--max-atoms", type=click.IntRange(min=0), default=DEFAULT_MAX_ATOMS,
              show_default=True,
              help="Rows whose molecule has more atoms are not scored (status too_large: "
                   "...); 0 = no cap.")
@click.option("--no-smiles-column", "no_smiles", is_flag=True,
              help="Leave out molood_smiles (the standardised SMILES scored) for wide "
                   "libraries.")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run into the same OUTPUT (same input, model and "
                   "options); the result equals an uninterrupted run.")
@quiet_option("No progress bar and no summary line.")
@errors
def screen(input: str, output: str, model: str | None, smiles_col: str | None, workers: int,
           batch_size: int | None, fpr: float | None, max_atoms: int, no_smiles: bool,
           resume: bool, quiet: bool) -> None:
    """Score every molecule of INPUT and write the rows with their scores to OUTPUT.

    INPUT is a .parquet, .csv[.gz], .tsv[.gz], .smi[.gz] or .sdf[.gz] file; it is streamed
    in chunks, so memory stays flat whatever its size. OUTPUT holds every input row once, in
    input order, with all input columns followed by:

    \b
      molood_score   OOD score, higher = more OOD (empty when not scored)
      molood_pvalue  conformal p-value vs held-out ID molecules (small = OOD)
      molood_is_ood  true when p-value <= fpr (empty when not scored)
      molood_status  "ok", or why the row was not scored ("empty",
                     "invalid_smiles: <RDKit message>", "sdf_parse_error: ...",
                     "too_large: N atoms (max_atoms=M)")
      molood_smiles  the standardised SMILES scored (--no-smiles-column: left out)

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
    from molood.screening import engine

    setup_logging(quiet)
    summary = engine.screen(input, output, model=model, smiles_col=smiles_col, workers=workers,
                            batch_size=batch_size, fpr=fpr, resume=resume, progress=not quiet,
                            max_atoms=max_atoms, smiles_column=not no_smiles)
    if not quiet:
        click.echo(f"molood: {summary}", err=True)
