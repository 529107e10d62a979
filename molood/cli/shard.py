"""``molood shard count|extract|split`` and ``molood merge``: cut a Parquet library into row
shards and join screened shards back into one file.

The data plumbing of the Snakemake workflow (``workflows/Snakefile`` runs ``molood shard
extract`` in its split jobs), usable without Snakemake. The work is done by
:mod:`molood.screening.shard` (streaming, atomic writes); these commands only parse options
and report. Shard ``i`` of a library cut at ``N`` rows holds rows ``[i*N, (i+1)*N)``.
"""

from __future__ import annotations

import json
import time

import click

from molood.cli.main import errors, quiet_option, report
from molood.screening.summary import plural

__all__ = ["shard", "merge"]

_PARQUET = click.Path(dir_okay=False, path_type=str)
_SHARD_ROWS = click.IntRange(min=1)
_QUIET = quiet_option("No line on stderr (molood --log-file still gets it).")


@click.group()
def shard() -> None:
    """Cut a Parquet library into shards of consecutive rows (for cluster jobs).

    Shard i of a library cut at N rows holds rows [i*N, (i+1)*N); there are ceil(rows/N)
    shards (one empty shard for an empty library). Only the row groups a shard needs are
    read, and every file is written atomically with the library's exact schema. Screen each
    shard with `molood screen`, then join the results with `molood merge`.

    \b
    Examples:
      molood shard count library.parquet --shard-rows 100000
      molood shard extract library.parquet --index 3 --shard-rows 100000 -o shard-3.parquet
      molood shard split library.parquet --shard-rows 100000 -o shards/
    """


@shard.command()
@click.argument("library", type=_PARQUET)
@click.option("--shard-rows", type=_SHARD_ROWS, metavar="N",
              help="Also print the number of shards of N rows.")
@errors
def count(library: str, shard_rows: int | None) -> None:
    """Print the rows (and shards) of LIBRARY as JSON, from its Parquet footer.

    No data is read. Output on stdout: {"rows": R} or, with --shard-rows,
    {"rows": R, "shards": S}.

    \b
    Example:
      molood shard count library.parquet --shard-rows 25    # {"rows": 60, "shards": 3}
    """
    from molood.screening.shard import count_rows, shard_count

    n = count_rows(library)
    out = {"rows": n}
    if shard_rows:
        out["shards"] = shard_count(n, shard_rows)
    click.echo(json.dumps(out))


@shard.command()
@click.argument("library", type=_PARQUET)
@click.option("--index", type=click.IntRange(min=0), required=True, metavar="I",
              help="Shard number, from 0.")
@click.option("--shard-rows", type=_SHARD_ROWS, required=True, metavar="N",
              help="Rows per shard.")
@click.option("-o", "--output", required=True, type=_PARQUET,
              help="Shard file to write (.parquet).")
@_QUIET
@errors
def extract(library: str, index: int, shard_rows: int, output: str, quiet: bool) -> None:
    """Write shard I (rows [I*N, (I+1)*N)) of LIBRARY to OUTPUT.

    Reads only the row groups of that range, so every shard can be extracted by its own job
    in parallel. OUTPUT keeps the library's schema and appears only when complete. A line
    with the row count and time goes to stderr.

    \b
    Example (what the workflow's split jobs run):
      molood shard extract library.parquet --index 0 --shard-rows 100000 -o shard-0.parquet
    """
    from molood.screening.shard import extract_shard

    t0 = time.perf_counter()
    try:
        rows = extract_shard(library, index, shard_rows, output)
    except IndexError as exc:  # shard beyond the end of the library
        raise click.ClickException(str(exc)) from exc
    report(f"shard {index}: {plural(rows, 'row')} -> {output} "
           f"({time.perf_counter() - t0:.2f} s)", quiet=quiet, prefix="")


@shard.command()
@click.argument("library", type=_PARQUET)
@click.option("--shard-rows", type=_SHARD_ROWS, required=True, metavar="N",
              help="Rows per shard.")
@click.option("-o", "--out-dir", required=True, type=click.Path(file_okay=False),
              help="Directory for the shards (created if missing).")
@_QUIET
@errors
def split(library: str, shard_rows: int, out_dir: str, quiet: bool) -> None:
    """Write every shard of LIBRARY to OUT_DIR in one streaming pass.

    Files are OUT_DIR/shard-00000.parquet, shard-00001.parquet, ... (zero-padded, so they
    sort in row order), each written atomically with the library's schema.

    \b
    Example:
      molood shard split library.parquet --shard-rows 100000 -o shards/
    """
    from molood.screening.shard import split as split_library

    paths = split_library(library, out_dir, shard_rows)
    report(f"{plural(len(paths), 'shard')} -> {out_dir}", quiet=quiet, prefix="")


def _metadata(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for kv in pairs:
        if "=" not in kv:
            raise click.UsageError(f"--set-metadata wants KEY=VALUE, got {kv!r}")
        k, v = kv.split("=", 1)
        out[k] = v
    return out


def _check_per_shard(what: str, files: tuple[str, ...], shards: tuple[str, ...]) -> None:
    if files and len(files) != len(shards):
        raise click.UsageError(f"{len(files)} {what} files for {len(shards)} shards")


@click.command()
@click.argument("shards", nargs=-1, required=True, type=_PARQUET)
@click.option("-o", "--output", required=True, type=_PARQUET,
              help="Merged Parquet file to write.")
@click.option("--summary", type=click.Path(dir_okay=False), metavar="JSON",
              help="Write a summary (rows, scored, invalid, flagged, per shard) as JSON.")
@click.option("--summary-tsv", type=click.Path(dir_okay=False), metavar="TSV",
              help="Write the per-shard summary table (plus a total line) as TSV.")
@click.option("--benchmark", multiple=True, type=click.Path(dir_okay=False), metavar="TSV",
              help="Snakemake benchmark file of a shard's screen job, for its seconds and "
                   "rows/s in the summary (repeat once per shard, in shard order).")
@click.option("--log", multiple=True, type=click.Path(dir_okay=False), metavar="LOG",
              help="`molood screen` log of a shard, for its mol/s in the summary (repeat "
                   "once per shard, in shard order).")
@click.option("--set-metadata", multiple=True, metavar="KEY=VALUE",
              help="Set a Parquet metadata key of the merged file (repeatable), e.g. "
                   "molood_input=library.parquet.")
@_QUIET
@errors
def merge(shards: tuple[str, ...], output: str, summary: str | None, summary_tsv: str | None,
          benchmark: tuple[str, ...], log: tuple[str, ...],
          set_metadata: tuple[str, ...], quiet: bool) -> None:
    """Concatenate screened SHARDS, in the order given, into OUTPUT.

    Streams the shards into OUTPUT (written atomically). The shards must have the same
    columns and have been screened with the same model, fpr, threshold and molood version
    (their molood_* Parquet metadata must agree); otherwise nothing is written and the exit
    status is 1. Per-shard metadata (each shard's input name) is dropped unless set with
    --set-metadata. With --summary/--summary-tsv, also writes the counts of scored, invalid
    and flagged rows per shard and in total; the summary's metadata is OUTPUT's (so
    --set-metadata molood_input=library.parquet names the library there too).

    \b
    Examples:
      molood merge screened/shard-*.parquet -o screened.parquet \\
          --set-metadata molood_input=library.parquet --summary screened.summary.json
      molood merge s0.parquet s1.parquet -o all.parquet --summary-tsv all.tsv \\
          --benchmark b0.tsv --benchmark b1.tsv
    """
    _check_per_shard("benchmark", benchmark, shards)
    _check_per_shard("log", log, shards)
    overrides = _metadata(set_metadata)
    from molood.screening import shard_summary
    from molood.screening.shard import merge as merge_shards

    t0 = time.perf_counter()
    res = merge_shards(shards, output, metadata=overrides)
    report(f"merged {plural(len(shards), 'shard')}, {plural(res['rows'], 'row')} -> {output} "
           f"({time.perf_counter() - t0:.2f} s)", quiet=quiet, prefix="")
    if summary or summary_tsv:
        secs = [shard_summary.read_benchmark(b) for b in benchmark] if benchmark else None
        shard_summary.write_summary(
            shard_summary.summarize(shards, secs, logs=list(log) or None, merged=output),
            summary, summary_tsv)
