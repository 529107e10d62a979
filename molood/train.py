"""Training from a library file: what ``molood train`` runs.

:func:`train_file` reads a library with the streaming readers of :mod:`molood.io`, fits a
detector (the hybrid detector by default, or SEGO) on its molecules and saves the model file.
Importing this module does not import torch; fitting does.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterator

from molood.exceptions import MoloodInputError
from molood.io.formats import detect_format
from molood.io.readers import read_batches

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.base import BaseDetector

__all__ = ["train_file"]

_READ_ROWS = 50_000


def train_file(input: str | os.PathLike, output: str | os.PathLike, *,
               smiles_col: str | None = None, detector: str = "hybrid",
               **params: Any) -> "BaseDetector":
    """Fit a detector (registry name ``detector``: ``"hybrid"``, the default, or ``"sego"``)
    on a library file and save it.

    Unparseable rows are skipped with a warning unless ``on_invalid="raise"`` is passed.
    ``params`` go to the detector (``seed``, ``fpr``, ``standardize``, ...).
    SMILES are handed to the detector as text (it parses them itself); SD records as RDKit
    molecules (None for a record that does not parse). The hybrid detector takes the file
    chunk by chunk (:meth:`~molood.detectors.hybrid.detector.HybridDetector.fit_chunks`:
    memory grows by ~0.7 kB a molecule, not by the molecules); SEGO takes it whole.

    The model file records where its molecules came from (``training_set.source``): the
    file's base name, the SMILES column used (None for SD files), the rows read and the rows
    skipped as invalid. No directory and no time, so that the same file, parameters and
    versions still give a byte-identical model file wherever it is trained.
    """
    from molood.detectors.registry import get_detector_class

    params.setdefault("on_invalid", "skip")
    det = get_detector_class(detector)(**params)
    det._validate_params()
    column = _smiles_column(input, smiles_col)
    names: list[Any] = []

    def chunks() -> Iterator[list[Any]]:
        for b in read_batches(input, smiles_col, batch_size=_READ_ROWS, infer_types=False):
            names.extend(_names(b.columns, len(b)))
            yield list(b.mols()[0] if b.kind == "molblock" else b.smiles)

    if hasattr(det, "fit_chunks"):  # streams: the file is never held as molecules
        expected = _rows_estimate(input) if getattr(det, "verbose", False) else None
        det.fit_chunks(_nonempty(chunks(), input), expected=expected)
    else:
        det.fit([x for c in _nonempty(chunks(), input) for x in c])
    ref = getattr(det, "reference_", None)
    if ref is not None and ref.source_index is not None and any(n is not None for n in names):
        ref.names = ["" if names[i] is None else str(names[i]) for i in ref.source_index]
    det.training_source_ = {"file": os.path.basename(os.fspath(input)), "smiles_col": column,
                            "rows": len(names), "skipped": len(names) - int(det.n_fit_)}
    det.save(output)
    return det


def _rows_estimate(path: str | os.PathLike) -> int | None:
    """About how many rows the file has (a fast count, for progress), None if unknown."""
    from molood.io.readers import count_rows

    try:
        return count_rows(path, exact=False) if detect_format(path) != "sdf" else None
    except Exception:  # noqa: BLE001 - progress only: reading the file reports real errors
        return None


def _nonempty(chunks: Iterator[list[Any]], input: str | os.PathLike) -> Iterator[list[Any]]:
    """``chunks``, or MoloodInputError when the file has no rows at all."""
    seen = False
    for c in chunks:
        seen = seen or bool(c)
        yield c
    if not seen:
        raise MoloodInputError(f"{os.fspath(input)}: no rows to train on")


def _names(columns: Any, n: int) -> list[Any]:
    """Each row's name (or ID) for the model's reference set, None where there is none."""
    from molood.explain.labels import find_label_columns

    id_col, name_col = find_label_columns(list(columns.columns))
    col = name_col or id_col
    if col is None:
        return [None] * n
    return columns[col].astype(object).where(columns[col].notna(), None).tolist()


def _smiles_column(path: str | os.PathLike, smiles_col: str | None) -> str | None:
    """The SMILES column :func:`~molood.io.readers.read_batches` reads from a table (None for
    SD files, whose records are structures)."""
    if detect_format(path) == "sdf":
        return None
    from molood.screening.plan import plan_input

    return plan_input(os.fspath(path), smiles_col, want_count=False).smiles_col
