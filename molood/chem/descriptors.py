"""A small, fixed set of physico-chemical descriptors, cheap enough to compute for every
screened molecule (~40 µs): size, rings, polarity, charge and heteroatoms. The hybrid detector
compares them with their in-distribution spread (:mod:`molood.detectors.hybrid`); reasons name
the most unusual one.

Crippen logP (~240 µs a molecule) and RDKit's strict rotatable-bond count (~90 µs) were left out
for their cost; H-bond donors/acceptors are Lipinski's counts (NH/OH; N + O).

RDKit + numpy; no torch.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

__all__ = ["DESCRIPTOR_NAMES", "DESCRIPTOR_LABELS", "descriptors", "rdkit_values",
           "descriptors_from"]

DESCRIPTOR_NAMES = ("heavy_atoms", "mol_weight", "rings", "aromatic_rings", "heteroatoms",
                    "hetero_fraction", "abs_charge", "rotatable_bonds", "hbd", "hba", "tpsa",
                    "fraction_csp3", "halogens")
"""Column order of :func:`descriptors`."""

DESCRIPTOR_LABELS = {
    "heavy_atoms": "heavy atoms", "mol_weight": "molecular weight", "rings": "rings",
    "aromatic_rings": "aromatic rings", "heteroatoms": "heteroatoms",
    "hetero_fraction": "heteroatom share", "abs_charge": "formal charges",
    "rotatable_bonds": "rotatable bonds", "hbd": "H-bond donors", "hba": "H-bond acceptors",
    "tpsa": "TPSA", "fraction_csp3": "sp3 carbon share", "halogens": "halogens"}
"""How reasons name each descriptor."""

_HALOGEN = np.zeros(256, dtype=bool)
_HALOGEN[[9, 17, 35, 53, 85]] = True


def descriptors(mols: Sequence[Any], types: Sequence[np.ndarray] | None = None,
                smiles: Sequence[str] | None = None) -> np.ndarray:
    """float64 [n, 13]: :data:`DESCRIPTOR_NAMES` of each RDKit molecule (hydrogens implicit;
    TPSA without S and P; rotatable bonds RDKit's non-strict count). ``types``: the molecules'
    :func:`~molood.chem.atomtypes.atom_types`, if already computed; ``smiles``: the SMILES each
    was parsed from or is written as, if known (a molecule without ``#`` in it has no triple
    bond, which makes the rotatable-bond count ~6 µs cheaper; same count)."""
    from molood.chem.atomtypes import atom_types

    types = [atom_types(m) for m in mols] if types is None else types
    values = [rdkit_values(m, None if smiles is None else smiles[i])
              for i, m in enumerate(mols)]
    return descriptors_from(values, types)


def rdkit_values(mol: Any, smiles: str | None = None) -> tuple[float, ...]:
    """The 8 columns of :func:`descriptors` that need RDKit calls on the molecule itself
    (molecular weight, rings, aromatic rings, rotatable bonds, HBD, HBA, TPSA, sp3 carbon
    share), for :func:`descriptors_from`; ``smiles`` as in :func:`descriptors`."""
    from rdkit.Chem import Descriptors, rdMolDescriptors

    if smiles is not None and "#" not in smiles:
        rotatable = len(mol.GetSubstructMatches(_no_triple_pattern()))
    else:
        rotatable = rdMolDescriptors.CalcNumRotatableBonds(mol, _non_strict())
    return (Descriptors.MolWt(mol), mol.GetRingInfo().NumRings(),
            rdMolDescriptors.CalcNumAromaticRings(mol), rotatable,
            rdMolDescriptors.CalcNumLipinskiHBD(mol), rdMolDescriptors.CalcNumLipinskiHBA(mol),
            rdMolDescriptors.CalcTPSA(mol), rdMolDescriptors.CalcFractionCSP3(mol))


def descriptors_from(values: Sequence[Sequence[float]], types: Sequence[np.ndarray]
                     ) -> np.ndarray:
    """float64 [n, 13]: :func:`descriptors` from each molecule's :func:`rdkit_values` and
    :func:`~molood.chem.atomtypes.atom_types` (the atom-count columns are counted for all
    molecules at once: per-molecule numpy calls cost more). Lets a caller read a molecule as
    soon as it is parsed, free it, and build the block's descriptors later."""
    n_mols = len(values)
    out = np.zeros((n_mols, len(DESCRIPTOR_NAMES)), dtype=np.float64)
    if n_mols == 0:
        return out
    sizes = np.fromiter((len(t) for t in types), dtype=np.int64, count=n_mols)
    allt = np.concatenate(types) if sizes.sum() else np.zeros((0, 4), dtype=np.int64)
    mol_of = np.repeat(np.arange(n_mols), sizes)
    z = allt[:, 0]
    het = np.bincount(mol_of, weights=(z != 6) & (z != 1), minlength=n_mols)
    out[:, 0] = sizes
    out[:, 4] = het
    out[:, 5] = het / np.maximum(sizes, 1)
    out[:, 6] = np.bincount(mol_of, weights=np.abs(allt[:, 1]), minlength=n_mols)
    out[:, 12] = np.bincount(mol_of, weights=_HALOGEN[np.clip(z, 0, 255)], minlength=n_mols)
    out[:, [1, 2, 3, 7, 8, 9, 10, 11]] = np.asarray(values, dtype=np.float64)
    return out


@functools.cache
def _non_strict() -> Any:
    from rdkit.Chem.rdMolDescriptors import NumRotatableBondsOptions

    return NumRotatableBondsOptions.NonStrict


@functools.cache
def _no_triple_pattern() -> Any:
    """RDKit's non-strict rotatable-bond SMARTS (``[!$(*#*)&!D1]-&!@[!$(*#*)&!D1]``) without
    its "not in a triple bond" clause, which no atom of a molecule without one can fail;
    counted with RDKit's own defaults (unique matches, at most 1,000), as it counts."""
    from rdkit import Chem

    return Chem.MolFromSmarts("[!D1]-&!@[!D1]")
