"""Per-molecule evidence the hybrid detector compares with its training set, computed once per
molecule: fingerprint on-bits (nearest neighbours), atom types (hard rules), descriptors
(physico-chemical spread). RDKit + numpy; no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from molood.chem.atomtypes import atom_types
from molood.chem.descriptors import descriptors
from molood.chem.neighbors import on_bits

__all__ = ["Profiles", "profiles"]


@dataclass(eq=False)
class Profiles:
    """Evidence of ``n`` molecules.

    Attributes
    ----------
    bits : list of ndarray int32
        Morgan (radius 2, 2048 bits) on-bits per molecule.
    types : list of ndarray int64 [n_atoms, 4]
        :func:`~molood.chem.atomtypes.atom_types` per molecule.
    desc : ndarray float64 [n, 13]
        :func:`~molood.chem.descriptors.descriptors`.
    """

    bits: list[np.ndarray]
    types: list[np.ndarray]
    desc: np.ndarray

    def __len__(self) -> int:
        return len(self.bits)

    def take(self, idx: np.ndarray) -> "Profiles":
        """The profiles of molecules ``idx``, in that order."""
        idx = np.asarray(idx, dtype=np.int64)
        return Profiles([self.bits[i] for i in idx.tolist()],
                        [self.types[i] for i in idx.tolist()], self.desc[idx])


def profiles(mols: Sequence[Any]) -> Profiles:
    """The :class:`Profiles` of RDKit molecules (all valid)."""
    mols = list(mols)
    types = [atom_types(m) for m in mols]
    return Profiles(bits=on_bits(mols), types=types, desc=descriptors(mols, types))
