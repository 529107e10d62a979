"""The ``molood`` command group and the plumbing its commands share.

The command line is a thin layer over the Python API: each command lives in its own module
(:mod:`molood.cli.train`, :mod:`.screen`, :mod:`.audit`, :mod:`.info`, :mod:`.shard`,
:mod:`.demo`), parses options and calls the library. This module holds what they share:

- :func:`main`, the click group (the ``molood`` console script). Its commands are registered
  by name in :data:`COMMANDS` and imported when used or listed, so the command modules can
  import this one without an import cycle, and ``molood --help`` stays fast (~0.4 s: no torch,
  DGL or RDKit; every command module imports those inside its function body).
- :func:`setup_logging`, the only place that configures logging.
- :func:`errors`, which turns molood's own exceptions (:class:`molood.exceptions.MoloodError`),
  missing files and bad values into a one-line ``Error: ...`` with exit status 1, and Ctrl-C
  into exit status 130.
- option decorators used by more than one command.

Data goes to files or stdout; progress bars, summaries and messages go to stderr.
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys
from typing import Any, Callable, TypeVar

import click

from molood.exceptions import MoloodError

__all__ = ["main", "COMMANDS", "EXIT_INTERRUPTED", "INPUT_FILE", "setup_logging", "errors",
           "smiles_col_option", "quiet_option"]

F = TypeVar("F", bound=Callable[..., Any])

#: exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it)
EXIT_INTERRUPTED = 130

#: command name -> "module:attribute" of its click command, in the order ``--help`` lists them
COMMANDS: dict[str, str] = {
    "train": "molood.cli.train:train",
    "screen": "molood.cli.screen:screen",
    "audit": "molood.cli.audit:audit",
    "info": "molood.cli.info:info",
    "shard": "molood.cli.shard:shard",
    "merge": "molood.cli.shard:merge",
    "demo": "molood.cli.demo:demo",
}

#: an existing-or-not input file argument (existence is checked by the library, which says
#: which file is missing in its own words)
INPUT_FILE = click.Path(dir_okay=False, path_type=str)


def setup_logging(quiet: bool) -> None:
    """Log molood's messages to stderr as ``molood: ...`` (INFO, or WARNING with --quiet)."""
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, stream=sys.stderr,
                        format="molood: %(message)s", force=True)
    for noisy in ("dgl", "torch"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def errors(fn: F) -> F:
    """Decorate a command: library errors -> click errors (one line, exit 1); Ctrl-C -> 130.

    Caught: every :class:`~molood.exceptions.MoloodError` (bad input, model, resume state,
    mismatched shards), ``FileNotFoundError`` and ``ValueError`` (bad option values found by
    the library). Anything else is a bug and keeps its traceback.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except KeyboardInterrupt:
            click.echo("molood: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except FileNotFoundError as exc:
            raise click.ClickException(str(exc.args[0] if len(exc.args) == 1 else exc)) from exc
        except (MoloodError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


smiles_col_option = click.option(
    "--smiles-col", metavar="COLUMN",
    help="SMILES column of a table [default: smiles, canonical_smiles or mol, any case].")


def quiet_option(help: str) -> Callable[[F], F]:
    """``-q/--quiet`` with the command's own description of what it silences."""
    return click.option("-q", "--quiet", is_flag=True, help=help)


class _Group(click.Group):
    """A click group whose commands are imported from :data:`COMMANDS` on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group("molood", cls=_Group,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="molood", prog_name="molood")
def main() -> None:
    """molood: molecular out-of-distribution screening with SEGO.

    Train a detector on in-distribution molecules, then screen libraries of any size against
    it. Scores are "higher = more out-of-distribution" everywhere. Run `molood COMMAND
    --help` for a command's manual.

    \b
    Examples:
      molood train data/freesolv.csv -o freesolv.molood --seed 0
      molood screen library.csv.gz -o scores.parquet --workers 4
      molood audit my_training_set.csv -o audited.parquet --folds 5
      molood info freesolv.molood
      molood shard split library.parquet --shard-rows 100000 -o shards/
      molood demo
    """


if __name__ == "__main__":  # pragma: no cover
    main()
