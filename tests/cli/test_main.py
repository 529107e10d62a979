"""molood.cli.main: the group, every command's manual page, the light import, and the error
translation shared by all commands."""

from __future__ import annotations

import importlib
import signal
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from molood.cli.main import COMMANDS, EXIT_INTERRUPTED, errors, main
from molood.exceptions import (MoloodInputError, MoloodModelError, MoloodResumeError,
                               ShardMismatchError, Terminated)

ALL_COMMANDS = [[], ["train"], ["screen"], ["info"], ["shard"], ["shard", "count"],
                ["shard", "extract"], ["shard", "split"], ["merge"], ["demo"], ["explain"],
                ["report"]]


@pytest.mark.parametrize("cmd", ALL_COMMANDS, ids=lambda c: " ".join(c) or "molood")
def test_help_reads_like_a_man_page(molood, cmd):
    r = molood(*cmd, "--help")
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"Usage: molood {' '.join(cmd)}".rstrip())
    assert "Example" in r.output
    assert len(r.output.splitlines()) >= 10  # what, inputs, outputs: more than a usage line


def test_group_lists_every_command_in_order(molood):
    r = molood("--help")
    listed = [ln.split()[0] for ln in r.output.split("Commands:")[1].splitlines() if ln.strip()]
    assert listed == list(COMMANDS) == ["train", "screen", "audit", "info", "shard", "merge",
                                        "demo", "explain", "report"]


def test_every_command_is_importable_by_name():
    for name, target in COMMANDS.items():
        module, attr = target.split(":")
        mod = importlib.import_module(module)
        assert isinstance(getattr(mod, attr), click.Command) and attr in mod.__all__, name


def test_version(molood):
    r = molood("--version")
    assert r.exit_code == 0 and "molood" in r.output


def test_unknown_command(molood):
    r = CliRunner().invoke(main, ["scren"])
    assert r.exit_code == 2 and "No such command 'scren'" in r.output


def test_import_and_help_are_light():
    """`import molood.cli.main` and `molood --help` (which imports every command module to
    list it) load neither torch, DGL nor RDKit, nor the screening engine."""
    code = ("import sys\n"
            "import molood.cli.main as m\n"
            "try:\n"
            "    m.main(['--help'])\n"
            "except SystemExit:\n"
            "    pass\n"
            "heavy = ('torch', 'dgl', 'rdkit', 'molood.screening.engine', 'molood.persist')\n"
            "print('HEAVY', [x for x in heavy if x in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert "Commands:" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "HEAVY []"


# ----------------------------------------------------------------------------- errors
def _failing(exc: BaseException) -> click.Command:
    @click.command()
    @errors
    def cmd() -> None:
        raise exc

    return cmd


@pytest.mark.parametrize("exc,message", [
    (MoloodInputError("lib.xyz: unknown file type"), "lib.xyz: unknown file type"),
    (MoloodModelError("m.molood: not a molood model file"), "not a molood model file"),
    (MoloodResumeError("cannot resume: other fpr"), "cannot resume: other fpr"),
    (ShardMismatchError("shards disagree"), "shards disagree"),
    (ValueError("fpr must be in (0, 1), got 2.0"), "fpr must be in (0, 1)"),
    (FileNotFoundError("no such file: x.csv"), "no such file: x.csv"),
    (FileNotFoundError(2, "No such file or directory"), "No such file or directory"),
])
def test_errors_become_one_line(exc, message):
    r = CliRunner().invoke(_failing(exc), [])
    assert r.exit_code == 1
    assert r.output.splitlines() == [f"Error: {r.output.split('Error: ', 1)[1].strip()}"]
    assert message in r.output and "Traceback" not in r.output


def test_ctrl_c_exits_130():
    r = CliRunner().invoke(_failing(KeyboardInterrupt()), [])
    assert r.exit_code == EXIT_INTERRUPTED == 130
    assert r.stderr == "molood: interrupted\n"


def test_sigterm_exits_143():
    r = CliRunner().invoke(_failing(Terminated(signal.SIGTERM)), [])
    assert r.exit_code == 143
    assert r.stderr == "molood: terminated by SIGTERM\n"


def test_bugs_keep_their_traceback():
    r = CliRunner().invoke(_failing(KeyError("bug")), [])
    assert r.exit_code == 1 and isinstance(r.exception, KeyError)
