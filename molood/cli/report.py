"""``molood report``: a self-contained HTML report of a screened file.

Calls :func:`molood.report.build_report`; :func:`run_report` is also what
``molood screen --report`` runs.
"""

from __future__ import annotations

import click

from molood.cli.main import INPUT_FILE, errors, quiet_option, setup_logging
from molood.cli.main import report as summary_line

__all__ = ["report", "run_report"]


def run_report(screened: str, output: str, *, model: str | None, top: int,
               reference: str | None = None, highlights: bool = True,
               smiles_col: str | None = None, id_col: str | None = None,
               name_col: str | None = None, fpr: float | None = None,
               quiet: bool = False) -> None:
    """Build the report and print its one-line summary (stderr) unless ``quiet``."""
    from molood.report import build_report

    result = build_report(screened, output, model=model, top=top, reference=reference,
                          highlights=highlights, smiles_col=smiles_col, id_col=id_col,
                          name_col=name_col, fpr=fpr)
    if result.model is None:
        summary_line("report: no model found (pass --model): no calibration histogram, "
                     "highlights or neighbours")
    summary_line(str(result), quiet=quiet)


@click.command()
@click.argument("screened", type=INPUT_FILE)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The HTML file to write.")
@click.option("-m", "--model", type=click.Path(dir_okay=False), default=None,
              help="Model file [default: the one the screen recorded in a Parquet file's "
                   "metadata, if it still exists].")
@click.option("--top", type=click.IntRange(min=0), default=50, show_default=True,
              help="How many of the most OOD molecules to show and explain.")
@click.option("--reference", type=click.Path(dir_okay=False), default=None,
              help="Library file of training molecules for nearest neighbours, for a model "
                   "without a reference set.")
@click.option("--highlights/--no-highlights", default=True, show_default=True,
              help="Colour atoms by the model's contributions (loads the model with torch).")
@click.option("--smiles-col", metavar="COLUMN", help="SMILES column [default: detected].")
@click.option("--id-col", metavar="COLUMN",
              help="ID column that labels molecules [default: id, molecule_chembl_id, "
                   "compound_id, _Name, ... if present].")
@click.option("--name-col", metavar="COLUMN",
              help="Name column shown beside the ID [default: name, pref_name, iupac, ...].")
@click.option("--fpr", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="For CSV/SD files (no molood metadata): the fpr their flags were set at "
                   "[default: the model's]. A Parquet file's recorded fpr always wins.")
@quiet_option("No summary line.")
@errors
def report(screened: str, output: str, model: str | None, top: int, reference: str | None,
           highlights: bool, smiles_col: str | None, id_col: str | None,
           name_col: str | None, fpr: float | None, quiet: bool) -> None:
    """Write a self-contained HTML report of SCREENED (the output of `molood screen`).

    One file that opens in any browser without network access: the counts (scored,
    invalid, flagged) with the false-positive rate and threshold; the model (training set,
    hash, versions); a histogram of the library's scores over the calibration (ID) scores
    with the threshold; the top molecules, each drawn with its atoms coloured by their
    contribution beside its nearest training molecule, with score, p-value and reasons; the
    reasons summarised; the invalid rows grouped by status with their first row numbers
    (0-based). The file is read once, in batches, whatever its size; only the top
    molecules are explained.

    \b
    Examples:
      molood report screened.parquet -o report.html
      molood report screened.csv -o report.html --model my.molood --top 100
      molood report screened.parquet -o report.html --no-highlights   # no torch needed
    """
    setup_logging(quiet)
    run_report(screened, output, model=model, top=top, reference=reference,
               highlights=highlights, smiles_col=smiles_col, id_col=id_col,
               name_col=name_col, fpr=fpr, quiet=quiet)
