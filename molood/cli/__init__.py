"""The ``molood`` command line: :mod:`.main` holds the group and the shared plumbing, one module
per command. A thin layer over the Python API: no logic of its own.
"""
