"""The fixed descriptor set (molood.chem.descriptors)."""

from __future__ import annotations

import numpy as np
from rdkit import Chem

from molood.chem.descriptors import DESCRIPTOR_LABELS, DESCRIPTOR_NAMES, descriptors


def test_known_values():
    d = dict(zip(DESCRIPTOR_NAMES, descriptors([Chem.MolFromSmiles("OC(=O)c1ccccc1Cl")])[0]))
    assert d["heavy_atoms"] == 10 and d["rings"] == 1 and d["aromatic_rings"] == 1
    assert d["heteroatoms"] == 3 and d["halogens"] == 1 and d["hbd"] == 1 and d["hba"] == 2
    assert abs(d["mol_weight"] - 156.57) < 0.01 and d["abs_charge"] == 0
    assert set(DESCRIPTOR_LABELS) == set(DESCRIPTOR_NAMES)


def test_one_atom_and_charged():
    d = descriptors([Chem.MolFromSmiles("[Na+]"), Chem.MolFromSmiles("C")])
    assert d.shape == (2, len(DESCRIPTOR_NAMES)) and np.isfinite(d).all()
    assert d[0, DESCRIPTOR_NAMES.index("abs_charge")] == 1


def test_precomputed_atom_types_give_the_same_rows():
    from molood.chem.atomtypes import atom_types

    mols = [Chem.MolFromSmiles(s) for s in ("CCO", "c1ccccc1Br", "C[N+](C)(C)C")]
    assert np.array_equal(descriptors(mols), descriptors(mols, [atom_types(m) for m in mols]))
