"""A small, fixed set of physico-chemical descriptors, cheap enough to compute for every
screened molecule (~40 µs): size, rings, polarity, charge and heteroatoms. The hybrid detector
compares them with their in-distribution spread (:mod:`molood.detectors.hybrid`); reasons name
the most unusual one.

Crippen logP (~240 µs a molecule) and RDKit's strict rotatable-bond count (~90 µs) were left out
for their cost; H-bond donors/acceptors are Lipinski's counts (NH/OH; N + O).

RDKit + numpy; no torch.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["DESCRIPTOR_NAMES", "DESCRIPTOR_LABELS", "descriptors"]

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

_HALOGENS = np.array([9, 17, 35, 53, 85])


def descriptors(mols: Sequence[Any], types: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """float64 [n, 13]: :data:`DESCRIPTOR_NAMES` of each RDKit molecule (hydrogens implicit;
    TPSA without S and P; rotatable bonds RDKit's non-strict count). ``types``: the molecules'
    :func:`~molood.chem.atomtypes.atom_types`, if already computed."""
    from rdkit.Chem import Descriptors, rdMolDescriptors
    from rdkit.Chem.rdMolDescriptors import NumRotatableBondsOptions

    from molood.chem.atomtypes import atom_types

    non_strict = NumRotatableBondsOptions.NonStrict
    out = np.zeros((len(mols), len(DESCRIPTOR_NAMES)), dtype=np.float64)
    for i, m in enumerate(mols):
        t = atom_types(m) if types is None else types[i]
        n = t.shape[0]
        z = t[:, 0]
        het = int(np.count_nonzero((z != 6) & (z != 1)))
        out[i] = (n, Descriptors.MolWt(m), m.GetRingInfo().NumRings(),
                  rdMolDescriptors.CalcNumAromaticRings(m), het, het / max(n, 1),
                  int(np.abs(t[:, 1]).sum()),
                  rdMolDescriptors.CalcNumRotatableBonds(m, non_strict),
                  rdMolDescriptors.CalcNumLipinskiHBD(m), rdMolDescriptors.CalcNumLipinskiHBA(m),
                  rdMolDescriptors.CalcTPSA(m), rdMolDescriptors.CalcFractionCSP3(m),
                  int(np.isin(z, _HALOGENS).sum()))
    return out
