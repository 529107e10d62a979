"""Per-molecule evidence the hybrid detector compares with its training set, computed once per
molecule: packed fingerprint (nearest neighbours), atom types (hard rules), descriptors
(physico-chemical spread). RDKit + numpy; no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from molood.chem.atomtypes import atom_types
from molood.chem.descriptors import descriptors
from molood.chem.fingerprints import packed_fingerprints
from molood.chem.parse import is_plain_smiles

__all__ = ["Profiles", "profiles"]


@dataclass(eq=False)
class Profiles:
    """Evidence of ``n`` molecules.

    Attributes
    ----------
    fingerprints : ndarray uint8 [n, 256]
        Morgan (radius 2, 2048 bits) fingerprints, packed
        (:func:`~molood.chem.fingerprints.packed_fingerprints`).
    types : list of ndarray int64 [n_atoms, 4]
        :func:`~molood.chem.atomtypes.atom_types` per molecule.
    desc : ndarray float64 [n, 13]
        :func:`~molood.chem.descriptors.descriptors`.
    """

    fingerprints: np.ndarray
    types: list[np.ndarray]
    desc: np.ndarray

    def __len__(self) -> int:
        return len(self.fingerprints)

    def take(self, idx: np.ndarray) -> "Profiles":
        """The profiles of molecules ``idx``, in that order."""
        idx = np.asarray(idx, dtype=np.int64)
        return Profiles(self.fingerprints[idx], [self.types[i] for i in idx.tolist()],
                        self.desc[idx])


def profiles(mols: Sequence[Any], smiles: Sequence[str] | None = None) -> Profiles:
    """The :class:`Profiles` of RDKit molecules (all valid). ``smiles``, where known, the SMILES
    each molecule was parsed from or is written as (e.g. its canonical SMILES), lets atom types
    and descriptors skip RDKit calls (same values)."""
    mols = list(mols)
    plain = [False] * len(mols) if smiles is None else [is_plain_smiles(s) for s in smiles]
    types = [atom_types(m, p) for m, p in zip(mols, plain)]
    return Profiles(fingerprints=packed_fingerprints(mols), types=types,
                    desc=descriptors(mols, types, smiles))
