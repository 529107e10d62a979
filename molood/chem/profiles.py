"""Per-molecule evidence the hybrid detector compares with its training set, computed once per
molecule: packed fingerprint (nearest neighbours), atom types (hard rules), descriptors
(physico-chemical spread). RDKit + numpy; no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence

import numpy as np

from molood.chem.atomtypes import atom_types, plain_atom_types
from molood.chem.descriptors import descriptors_from, rdkit_values
from molood.chem.fingerprints import fingerprint_text, packed_from_text
from molood.chem.parse import is_plain_smiles

__all__ = ["Profiles", "ProfileRow", "profile_row", "profiles"]


class ProfileRow(NamedTuple):
    """What :class:`Profiles` needs of one molecule (:func:`profile_row`), read while the
    molecule is at hand, so that a training chunk need not hold its RDKit molecules
    (:func:`~molood.detectors.hybrid.table.profile_chunk`)."""

    fingerprint: str  # FPS hex text, fingerprints.fingerprint_text
    types: np.ndarray  # int64 [n_atoms, 4], atomtypes.atom_types (rows in any order)
    values: tuple[float, ...]  # descriptors.rdkit_values


@dataclass(eq=False)
class Profiles:
    """Evidence of ``n`` molecules.

    Attributes
    ----------
    fingerprints : ndarray uint8 [n, 256]
        Morgan (radius 2, 2048 bits) fingerprints, packed
        (:func:`~molood.chem.fingerprints.packed_fingerprints`).
    types : list of ndarray int64 [n_atoms, 4]
        :func:`~molood.chem.atomtypes.atom_types` per molecule (its rows, one per atom, in
        the order of the SMILES the molecule was read with: every use is order-free).
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


def profile_row(mol: Any, smiles: str | None = None, written: bool = False) -> ProfileRow:
    """The :class:`ProfileRow` of one RDKit molecule; ``smiles`` and ``written`` as in
    :func:`profiles`."""
    types = (plain_atom_types(mol, smiles, written)
             if smiles is not None and is_plain_smiles(smiles) else atom_types(mol))
    return ProfileRow(fingerprint_text(mol), types, rdkit_values(mol, smiles))


def profiles(mols: Sequence[Any], smiles: Sequence[str | None] | None = None,
             written: bool = False) -> Profiles:
    """The :class:`Profiles` of RDKit molecules (all valid), or of their :class:`ProfileRow`
    (read already, :func:`profile_row`; the two may be mixed). ``smiles``, where known, the
    SMILES each molecule was parsed from or is written as (e.g. its canonical SMILES), lets
    atom types and descriptors skip RDKit calls (same values); ``written=True``: each is
    RDKit's own SMILES of its molecule (``MolToSmiles``; saves one more check,
    :func:`~molood.chem.atomtypes.plain_atom_types`)."""
    rows = [m if isinstance(m, ProfileRow) else
            profile_row(m, None if smiles is None else smiles[i], written)
            for i, m in enumerate(mols)]
    types = [r.types for r in rows]
    return Profiles(fingerprints=packed_from_text([r.fingerprint for r in rows]), types=types,
                    desc=descriptors_from([r.values for r in rows], types))
