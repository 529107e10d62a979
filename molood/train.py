"""Training from a library file: what ``molood train`` runs.

:func:`train_file` reads a library with the streaming readers of :mod:`molood.io`, fits a
:class:`~molood.detectors.sego.detector.SEGODetector` on its molecules and saves the model
file. Importing this module does not import torch; fitting does.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from molood.exceptions import MoloodInputError
from molood.io.readers import read_batches

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.sego.detector import SEGODetector

__all__ = ["train_file"]

_READ_ROWS = 50_000


def train_file(input: str | os.PathLike, output: str | os.PathLike, *,
               smiles_col: str | None = None, **params: Any) -> "SEGODetector":
    """Fit a :class:`~molood.detectors.sego.detector.SEGODetector` on a library file and save it.

    Unparseable rows are skipped with a warning unless ``on_invalid="raise"`` is passed.
    ``params`` go to the detector (``epochs``, ``seed``, ``mode``, ``alpha``, ...). SMILES are
    handed to the detector as text (it parses them itself); SD records as RDKit molecules
    (None for a record that does not parse).
    """
    from molood.detectors.sego.detector import SEGODetector

    params.setdefault("on_invalid", "skip")
    det = SEGODetector(**params)
    det._validate_params()
    items: list[Any] = []
    for b in read_batches(input, smiles_col, batch_size=_READ_ROWS, infer_types=False):
        items.extend(b.mols()[0] if b.kind == "molblock" else b.smiles)
    if not items:
        raise MoloodInputError(f"{os.fspath(input)}: no rows to train on")
    det.fit(items)
    det.save(output)
    return det
