"""The unit the readers stream: :class:`MolBatch`, a slice of consecutive input rows.

Every reader of :mod:`molood.io.readers` yields these; parsing is separate from reading (so that
it can run in worker processes): ``MolBatch.inputs`` is the plain list of SMILES strings (or mol
blocks for SD files) to hand to :func:`molood.chem.features.inputs_to_arrays`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["MolBatch", "make_batch"]


@dataclass
class MolBatch:
    """A slice of consecutive input rows.

    Attributes
    ----------
    row_index : ndarray of int64, shape [n]
        0-based source row numbers (data rows / SD records; headers and blank lines are not
        rows).
    columns : pandas.DataFrame
        The input columns of these rows with their original dtypes (RangeIndex 0..n-1). For SD
        files: ``_Name`` (title line) and every SD property, as strings.
    kind : "smiles" or "molblock"
        What ``inputs`` holds.
    smiles : list of (str or None)
        The raw SMILES cells (None for a null cell); all None for SD input.
    molblocks : list of (str or None) or None
        SD input only: each record's mol block (header to ``M  END``), verbatim.
    """

    row_index: np.ndarray
    columns: pd.DataFrame
    kind: Literal["smiles", "molblock"]
    smiles: list[str | None]
    molblocks: list[str | None] | None = None
    _parsed: Any = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.row_index.shape[0])

    @property
    def inputs(self) -> list[str | None]:
        """What to featurize: SMILES strings, or mol blocks when ``kind == "molblock"``."""
        return self.molblocks if self.kind == "molblock" else self.smiles  # type: ignore

    def to_arrays(self, largest_fragment: bool = False) -> tuple[Any, list[str | None]]:
        """Parse + featurize: ``(GraphArrays of the valid rows, errors per row)``."""
        from molood.chem.features import inputs_to_arrays

        return inputs_to_arrays(self.inputs, self.kind, largest_fragment=largest_fragment)

    def mols(self) -> tuple[list[Any], list[str | None]]:
        """RDKit molecules (None where invalid) and error reasons, parsed on first call."""
        if self._parsed is None:
            from molood.chem.parse import parse

            pairs = [parse(v, self.kind) for v in self.inputs]
            self._parsed = ([m for m, _ in pairs], [e for _, e in pairs])
        return self._parsed




def make_batch(stop: int, columns: pd.DataFrame, smiles: list[str | None],
           molblocks: list[str | None] | None = None) -> MolBatch:
    """The batch of the ``len(smiles)`` source rows before row ``stop``; mol blocks, if
    given, make it a ``"molblock"`` batch."""
    return MolBatch(row_index=np.arange(stop - len(smiles), stop, dtype=np.int64),
                    columns=columns, kind="smiles" if molblocks is None else "molblock",
                    smiles=smiles, molblocks=molblocks)
