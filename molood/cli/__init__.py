"""The ``molood`` command line: :mod:`.main` holds the click group and the shared plumbing
(logging, error messages, common options); each command has its own module (:mod:`.train`,
:mod:`.screen`, :mod:`.info`, :mod:`.shard`, :mod:`.demo`). A thin layer over the Python API:
no logic of its own.
"""

__all__: list[str] = []
