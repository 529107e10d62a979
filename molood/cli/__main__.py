"""``python -m molood.cli``: the ``molood`` command."""

from molood.cli.main import main

main()
