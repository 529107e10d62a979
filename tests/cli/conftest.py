"""Fixtures of the command-line tests (the repository-wide ones are in tests/conftest.py).

``molood``
    Runs the ``molood`` click group in-process: ``molood("screen", path, "-o", out)`` returns
    click's ``Result`` (``exit_code``, ``output``, ``stdout``, ``stderr``); arguments may be
    paths or numbers. Exceptions the CLI does not turn into messages propagate.
``listdir``
    ``listdir(path)``: the sorted names in a directory (to check that a command left no
    temporary or partial files behind).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner, Result

from molood.cli.main import main


@pytest.fixture()
def molood() -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: Any) -> Result:
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture()
def listdir() -> Callable[[Path], list[str]]:
    return lambda d: sorted(p.name for p in Path(d).iterdir())
