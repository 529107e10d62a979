"""molood.evaluation as a package: torch-free imports and the re-exported names."""

from __future__ import annotations

import subprocess
import sys

import molood.evaluation as evaluation


def test_import_is_light():
    """Every evaluation module imports without torch, DGL, scikit-learn or RDKit."""
    code = ("import sys, pkgutil, importlib, molood.evaluation as p\n"
            "for m in pkgutil.iter_modules(p.__path__, p.__name__ + '.'):\n"
            "    importlib.import_module(m.name)\n"
            "bad = [m for m in ('torch', 'dgl', 'sklearn', 'rdkit') if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_reexports_are_the_module_functions():
    from molood.evaluation import baselines, dedup, metrics, splits

    for mod in (baselines, dedup, metrics, splits):
        for name in mod.__all__:
            assert getattr(evaluation, name) is getattr(mod, name)
            assert name in evaluation.__all__
