"""``molood screen``: score every molecule of a library file against a model.

Calls :func:`molood.screening.engine.screen`. Without ``--fpr`` it passes ``fpr=None``, which
the library reads as "the model's stored default" (set by ``molood train --fpr``): the CLI has
no flag-rate default of its own. An output file type that cannot be written (``-o out.smi``)
is refused before anything is read. ``--json`` prints the run summary as JSON on stdout
(:meth:`~molood.screening.summary.ScreenSummary.to_json`).
"""

from __future__ import annotations

import click

from molood.chem.limits import DEFAULT_MAX_ATOMS
from molood.cli.main import (
    INPUT_FILE,
    errors,
    quiet_option,
    report,
    setup_logging,
    smiles_col_option,
)

__all__ = ["screen"]


def _writable(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Refuse an output file type molood cannot write, listing the ones it can."""
    from molood.exceptions import MoloodInputError
    from molood.io.formats import detect_output_format

    try:
        detect_output_format(value)
    except MoloodInputError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc
    return value


@click.command()
@click.argument("input", type=INPUT_FILE)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              callback=_writable,
              help="Output file; format by extension: .parquet, .csv[.gz], .tsv[.gz], "
                   ".sdf[.gz] (SMILES files are input only).")
@click.option("-m", "--model", type=click.Path(dir_okay=False),
              help="Model file from `molood train` [default: the bundled FreeSolv model].")
@smiles_col_option
@click.option("--id-col", metavar="NAME",
              help="The column that identifies each row, written first. SD input: the SD "
                   "property NAME if the records have it, else the title line as column NAME "
                   "(instead of _Name). SMILES file: the name field as column NAME. Table: an "
                   "existing column [default: _Name for SD, name for SMILES files, the "
                   "table's own order].")
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
@click.option("--json", "as_json", is_flag=True,
              help="Print the run summary as JSON on stdout (the counts named as in the "
                   "workflow's summary.json: rows, scored, invalid, flagged, status_counts).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the HTML report of OUTPUT to this file (see `molood report`).")
@quiet_option("No progress and no summary line on stderr (molood --log-file still gets the "
              "summary and the log lines).")
@errors
def screen(input: str, output: str, model: str | None, smiles_col: str | None,
           id_col: str | None, workers: int, batch_size: int | None, fpr: float | None,
           max_atoms: int, no_smiles: bool, resume: bool, as_json: bool, quiet: bool,
           report_path: str | None = None) -> None:
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
    in its key-value metadata (and a pandas-written Parquet input's index, restored by
    pd.read_parquet); SD output keeps each record and adds the scores as SD properties.
    Invalid rows do not make the run fail (exit status 0); an unreadable input does (exit
    status 1, e.g. a truncated .gz file, or a 0-byte CSV, which has no header; a header
    without rows, or a 0-byte .smi or .sdf file, is an empty library).

    SD input to a table (Parquet, CSV, TSV): the SD title (_Name) and every SD property become
    columns, and a column "smiles" holds each record's canonical RDKit SMILES ("rdkit_smiles"
    if the records have a property named smiles, in any case; empty for a record RDKit cannot
    read). --id-col chooses the ID column, e.g. --id-col chembl_id (a property) or --id-col ID
    (the title, named ID, as RDKit's PandasTools.LoadSDF(idName="ID")).

    The output appears only when the run completes. Finished chunks are kept in
    OUTPUT.molood-parts/ until then, so a run stopped by Ctrl-C (exit status 130), SIGTERM
    (143), a kill or a crash continues with --resume. Progress goes to stderr: a bar on a
    terminal, a plain line every 30 s otherwise (CI and cluster logs).

    \b
    Examples:
      molood screen library.csv.gz -o scores.parquet
      molood screen library.sdf -o scores.sdf --model my.molood --workers 4 --fpr 0.01
      molood screen library.sdf -o scores.csv --id-col chembl_id
      molood screen library.csv.gz -o scores.parquet --resume
      molood --log-file run.log screen library.csv.gz -o scores.parquet --json --quiet
    """
    from molood._parallel import resolve_n_jobs, start_forkserver
    from molood.screening.models import scorer_preload

    if resolve_n_jobs(workers) > 1:  # the workers' imports overlap with this process's work
        start_forkserver(scorer_preload(model))
    from molood.screening import engine

    setup_logging(quiet)
    summary = engine.screen(input, output, model=model, smiles_col=smiles_col, workers=workers,
                            batch_size=batch_size, fpr=fpr, resume=resume, progress=not quiet,
                            id_col=id_col, max_atoms=max_atoms, smiles_column=not no_smiles)
    report(str(summary), quiet=quiet)
    if as_json:
        click.echo(summary.to_json())
    if report_path:
        from molood.cli.report import run_report

        run_report(output, report_path, model=summary.model_path, top=50, fpr=summary.fpr,
                   quiet=quiet)
