"""Shared fixtures.

``tiny_model_path`` / ``tiny_model``
    A SEGO model trained for 3 epochs on the first 200 FreeSolv molecules (val_fraction 0.2, so
    40 calibration scores and a finite threshold at fpr 0.05); trained once per session (~3 s).
    Not a good detector, only a fast and real one.
``library_rows``
    ~60 SMILES-table rows: MOSES-like drug molecules, FreeSolv molecules, a salt, invalid and
    empty SMILES and a valence error, in a fixed order, as a list of dicts
    (``id``, ``smiles``, ``value``).
``library_csv``
    Those rows written to ``library.csv`` (session temp dir).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("DGLBACKEND", "pytorch")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"

_EXTRA = [
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O",  # ibuprofen
    "CN1CCC[C@H]1c1cccnc1",
    "O=C(O)c1ccccc1OC(=O)C",
    "not_a_smiles",
    "",
    "C1CC",  # unclosed ring
    "[Na+].[Cl-]",
    "N(C)(C)(C)(C)C",  # valence error
    "c1ccc2c(c1)[nH]c1ccccc12",
    "[U]",
    "CCO",
    "CCO",  # a duplicate
]


@pytest.fixture(scope="session")
def freesolv_smiles() -> list[str]:
    return pd.read_csv(DATA / "freesolv.csv")["smiles"].tolist()


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory, freesolv_smiles) -> Path:
    from molood.detectors.sego.detector import SEGODetector

    det = SEGODetector(epochs=3, val_fraction=0.2, seed=0, verbose=False)
    det.fit(freesolv_smiles[:200])
    path = tmp_path_factory.mktemp("model") / "tiny.molood"
    det.save(path)
    return path


@pytest.fixture(scope="session")
def tiny_model(tiny_model_path):
    from molood.persist import load_model

    return load_model(tiny_model_path)


@pytest.fixture(scope="session")
def library_rows(freesolv_smiles) -> list[dict]:
    smiles = freesolv_smiles[300:346] + _EXTRA
    return [{"id": f"m{i:03d}", "smiles": s, "value": f"{i * 0.5:.1f}"}
            for i, s in enumerate(smiles)]


@pytest.fixture(scope="session")
def library_csv(tmp_path_factory, library_rows) -> Path:
    path = tmp_path_factory.mktemp("lib") / "library.csv"
    pd.DataFrame(library_rows).to_csv(path, index=False)
    return path
