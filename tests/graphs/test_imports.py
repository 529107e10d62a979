"""molood.graphs is the numpy layer: none of its modules may pull in RDKit or torch."""

from __future__ import annotations

import subprocess
import sys

CODE = """\
import importlib, pkgutil, sys
import molood.graphs as p
names = [m.name for m in pkgutil.iter_modules(p.__path__, p.__name__ + '.')]
for name in names:
    importlib.import_module(name)
assert {'molood.graphs.arrays', 'molood.graphs.codingtree', 'molood.graphs.trees'} <= set(names)
bad = [m for m in ('rdkit', 'torch', 'dgl') if m in sys.modules]
assert not bad, bad
"""


def test_graphs_import_neither_rdkit_nor_torch():
    subprocess.run([sys.executable, "-c", CODE], check=True)
