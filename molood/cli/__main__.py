"""``python -m molood.cli``: the ``molood`` command, for environments without the console
script on PATH."""

from molood.cli.main import main

__all__: list[str] = []

main()
