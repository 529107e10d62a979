"""Reports and explanations import light: no torch or DGL (reports need torch only for atom
highlights), and neither needs RDKit until it draws or looks something up."""

from __future__ import annotations

import subprocess
import sys


def test_report_and_explain_import_no_torch_or_rdkit():
    mods = ["molood.report", "molood.report.html", "molood.report.plots", "molood.explain",
            "molood.explain.frame", "molood.explain.render", "molood.chem.reference",
            "molood.cli.report", "molood.cli.explain", "molood.detectors.terms"]
    code = ("import importlib, sys\n"
            f"for m in {mods!r}: importlib.import_module(m)\n"
            "bad = [m for m in ('torch', 'dgl', 'rdkit', 'matplotlib') if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)
