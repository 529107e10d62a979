"""The layers a newcomer reads off the tree hold: which subpackages may pull in torch.

Each case imports the listed modules in a fresh interpreter and checks what came with them.
(``graphs`` and ``evaluation`` have their own, stricter checks in their test folders.)
"""

from __future__ import annotations

import subprocess
import sys

import pytest

TORCH = ("torch", "dgl")

CASES = {
    "every subpackage __init__": (
        ["molood", "molood.chem", "molood.graphs", "molood.detectors", "molood.detectors.sego",
         "molood.io", "molood.screening", "molood.cli", "molood.evaluation"], TORCH),
    "chem (RDKit + numpy)": (["molood.chem.parse", "molood.chem.features",
                              "molood.chem.neighbors", "molood.chem.profiles",
                              "molood.chem.atomtypes", "molood.chem.descriptors"], TORCH),
    "hybrid detector without SEGO": (["molood.detectors.hybrid.detector",
                                      "molood.detectors.hybrid.state"], TORCH),
    "io": (["molood.io.formats", "molood.io.readers", "molood.io.writers"], TORCH + ("rdkit",)),
    "detector contract and registry": (
        ["molood.detectors.base", "molood.detectors.calibration", "molood.detectors.registry",
         "molood.detectors.inputs", "molood.persist"], TORCH),
    "screening parent process": (
        ["molood.screening.engine", "molood.screening.plan", "molood.screening.models",
         "molood.screening.output", "molood.screening.summary", "molood.screening.workdir",
         "molood.screening.worker", "molood.screening.shard", "molood.screening.shard_summary",
         "molood.cli.main", "molood.accessor"], TORCH),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_imports_stay_light(case):
    modules, forbidden = CASES[case]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"bad = [m for m in {forbidden!r} if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)
