"""The ``molood`` command group and the plumbing its commands share.

The command line is a thin layer over the Python API: each command lives in its own module
(:mod:`molood.cli.train`, :mod:`.screen`, :mod:`.audit`, :mod:`.info`, :mod:`.shard`,
:mod:`.demo`), parses options and calls the library. This module holds what they share:

- :func:`main`, the click group (the ``molood`` console script). Its commands are registered
  by name in :data:`COMMANDS` and imported when used or listed, so the command modules can
  import this one without an import cycle, and ``molood --help`` stays fast (~0.4 s: no torch,
  DGL or RDKit; every command module imports those inside its function body).
- :func:`setup_logging`, the only place that configures logging, and :func:`report`, which
  prints a command's summary line: both write to stderr and to the group's ``--log-file``.
- :func:`errors`, which turns molood's own exceptions (:class:`molood.exceptions.MoloodError`),
  missing files and bad values into a one-line ``Error: ...`` with exit status 1, Ctrl-C into
  exit status 130 and SIGTERM into 143 (128 + the signal, as a shell reports a killed process).
- option decorators used by more than one command.

Data goes to files or stdout; progress, summaries and messages go to stderr: a progress bar on
a terminal, plain periodic lines otherwise (:mod:`molood.screening.progress`). ``molood
--log-file FILE COMMAND ...`` also appends every log line, summary and error of the command to
FILE, with a time stamp, whether or not ``--quiet`` silences stderr (``--quiet`` turns progress
off altogether).
"""

from __future__ import annotations

import functools
import importlib
import logging
import signal
import sys
from typing import Any, Callable, TypeVar

import click

from molood.exceptions import MoloodError

__all__ = ["main", "COMMANDS", "EXIT_INTERRUPTED", "INPUT_FILE", "setup_logging", "report",
           "errors", "smiles_col_option", "quiet_option"]

F = TypeVar("F", bound=Callable[..., Any])

#: exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it); SIGTERM gives
#: 143 (128 + SIGTERM)
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
    "explain": "molood.cli.explain:explain",
    "report": "molood.cli.report:report",
}

#: an existing-or-not input file argument (existence is checked by the library, which says
#: which file is missing in its own words)
INPUT_FILE = click.Path(dir_okay=False, path_type=str)


_STDERR_FORMAT = "molood: %(message)s"
_FILE_FORMAT = "%(asctime)s molood: %(message)s"

#: the group's --log-file handler while a command runs (None without --log-file), and the
#: stderr handler that stands in for logging's last resort next to it
_log_file: logging.Handler | None = None
_warnings: logging.Handler | None = None


def _open_log_file(path: str | None) -> None:
    """Start (or, with None, stop) appending log records to the --log-file ``path``.

    Until a command calls :func:`setup_logging`, warnings still reach stderr (a root handler
    would otherwise silence logging's last-resort handler)."""
    global _log_file, _warnings
    root = logging.getLogger()
    for h in (_log_file, _warnings):
        if h is not None:
            root.removeHandler(h)
            h.close()
    _log_file = _warnings = None
    if path is not None:
        _log_file = logging.FileHandler(path, mode="a", encoding="utf-8")
        _log_file.setFormatter(logging.Formatter(_FILE_FORMAT))
        _log_file.setLevel(logging.INFO)
        _warnings = logging.StreamHandler(sys.stderr)
        _warnings.setFormatter(logging.Formatter(_STDERR_FORMAT))
        _warnings.setLevel(logging.WARNING)
        root.addHandler(_log_file)
        root.addHandler(_warnings)
        if root.getEffectiveLevel() > logging.INFO:
            root.setLevel(logging.INFO)


def setup_logging(quiet: bool) -> None:
    """Log molood's messages to stderr as ``molood: ...`` (INFO, or WARNING with --quiet), and
    at INFO to the group's --log-file, if any, whatever ``quiet`` says."""
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter(_STDERR_FORMAT))
    stderr.setLevel(logging.WARNING if quiet else logging.INFO)
    handlers: list[logging.Handler] = [stderr]
    if _log_file is not None:
        logging.getLogger().removeHandler(_log_file)  # basicConfig(force) would close it
        handlers.append(_log_file)
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True)
    for noisy in ("dgl", "torch"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _to_log_file(message: str, level: int = logging.INFO) -> None:
    if _log_file is not None:
        _log_file.handle(logging.makeLogRecord({"msg": message, "levelno": level,
                                                "levelname": logging.getLevelName(level),
                                                "name": "molood.cli"}))


def report(message: str, *, quiet: bool = False, prefix: str = "molood: ") -> None:
    """A command's summary line: to stderr as ``prefix + message`` (unless ``quiet``) and to
    the --log-file (always)."""
    if not quiet:
        click.echo(f"{prefix}{message}", err=True)
    _to_log_file(message)


def errors(fn: F) -> F:
    """Decorate a command: library errors -> click errors (one line, exit 1); Ctrl-C -> 130,
    SIGTERM -> 143 (a :class:`~molood.exceptions.Terminated` carries its signal number).

    Caught: every :class:`~molood.exceptions.MoloodError` (bad input, model, resume state,
    mismatched shards), ``FileNotFoundError`` and ``ValueError`` (bad option values found by
    the library). Anything else is a bug and keeps its traceback. The message also goes to the
    --log-file.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except click.ClickException as exc:
            _to_log_file(f"Error: {exc.format_message()}", logging.ERROR)
            raise
        except KeyboardInterrupt as exc:
            signum = int(getattr(exc, "signum", signal.SIGINT))
            what = "interrupted" if signum == signal.SIGINT else (
                f"terminated by {signal.Signals(signum).name}")
            click.echo(f"molood: {what}", err=True)
            _to_log_file(what, logging.ERROR)
            sys.exit(128 + signum)
        except FileNotFoundError as exc:
            msg = str(exc.args[0] if len(exc.args) == 1 else exc)
            _to_log_file(f"Error: {msg}", logging.ERROR)
            raise click.ClickException(msg) from exc
        except (MoloodError, ValueError) as exc:
            _to_log_file(f"Error: {exc}", logging.ERROR)
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
@click.option("--log-file", type=click.Path(dir_okay=False, writable=True), metavar="FILE",
              help="Also append the command's log lines, summary and errors to FILE, "
                   "time-stamped, also with the command's --quiet (progress lines too, without "
                   "--quiet, when stderr is not a terminal).")
@click.pass_context
def main(ctx: click.Context, log_file: str | None) -> None:
    """molood: molecular out-of-distribution screening with SEGO.

    Train a detector on in-distribution molecules, then screen libraries of any size against
    it. Scores are "higher = more out-of-distribution" everywhere. Run `molood COMMAND
    --help` for a command's manual.

    Progress and messages go to stderr: a progress bar on a terminal, a plain line every 30 s
    when stderr is a file or a pipe (CI and cluster logs). --log-file keeps a copy of them;
    a command's --quiet silences stderr.

    \b
    Examples:
      molood train data/freesolv.csv -o freesolv.molood --seed 0
      molood screen library.csv.gz -o scores.parquet --workers 4
      molood audit my_training_set.csv -o audited.parquet --folds 5
      molood info freesolv.molood
      molood explain freesolv.molood "O=[Se](O)O" --svg why.svg
      molood report scores.parquet -o report.html
      molood shard split library.parquet --shard-rows 100000 -o shards/
      molood demo
      molood --log-file screen.log screen library.csv.gz -o scores.parquet --quiet
    """
    _open_log_file(log_file)
    if log_file is not None:
        ctx.call_on_close(lambda: _open_log_file(None))


if __name__ == "__main__":  # pragma: no cover
    main()
