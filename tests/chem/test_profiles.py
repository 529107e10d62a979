"""Per-molecule evidence (molood.chem.profiles): the shortcuts a known SMILES allows give exactly
what reading every RDKit value gives."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from molood.chem.atomtypes import atom_types, plain_atom_types
from molood.chem.descriptors import descriptors, descriptors_from, rdkit_values
from molood.chem.fingerprints import fingerprint_text, packed_fingerprints, packed_from_text
from molood.chem.parse import is_plain_smiles
from molood.chem.profiles import profile_row, profiles

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("MOLOOD_SHARED_DATA", REPO / ".." / "shared" / "data"))

# plain texts whose parse charges atoms (RDKit's clean-up), triple bonds, a lone carbon
TRICKY = ["CN(=O)=O", "CC#N", "C#CC(C)(C)O", "N#N", "C", "CC(=O)ON=C=O", "ClCCl", "CS(=O)(=O)N",
          "c1ccncc1", "P(=O)(O)(O)O", "OB(O)c1ccccc1", "[Na+].[Cl-]", "C[N+](C)(C)C",
          "[CH3]", "CC(C)[S-]"]


def _check(smiles: list[str]) -> int:
    """Profiles with and without the SMILES, for each SMILES as parsed and as canonical; the
    number of plain ones."""
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    keep = [i for i, m in enumerate(mols) if m is not None]
    mols, smiles = [mols[i] for i in keep], [smiles[i] for i in keep]
    full = profiles(mols)
    canonical = [Chem.MolToSmiles(m) for m in mols]
    for text, written in ((smiles, False), (canonical, False), (canonical, True)):
        fast = profiles(mols, text, written)
        np.testing.assert_array_equal(fast.fingerprints, full.fingerprints)
        np.testing.assert_array_equal(fast.desc, full.desc)
        for a, b, s in zip(fast.types, full.types, text):
            assert np.array_equal(_rows(a), _rows(b)), s
    return sum(map(is_plain_smiles, smiles))


def _rows(types: np.ndarray) -> np.ndarray:
    """Atom-type rows in a fixed order (profiles keep them in their SMILES's atom order)."""
    return types[np.lexsort(types.T[::-1])]


def test_plain_atom_types_are_the_full_read_in_the_texts_atom_order():
    for text in ["CCS(=O)(=O)N", "CP(=O)(O)O", "Ic1ccccc1", "OB(O)c1ccsc1", "ClC(Br)F", "C=N"]:
        mol = Chem.MolFromSmiles(text)
        assert np.array_equal(plain_atom_types(mol, text), atom_types(mol)), text
    # texts the elements cannot be read off, or whose parse RDKit charged: the full read
    for text in ["CN(=O)=O", "C*", "OCl(=O)(=O)=O"]:
        mol = Chem.MolFromSmiles(text)
        assert np.array_equal(plain_atom_types(mol, text), atom_types(mol)), text
    # written as (another atom order): the same rows, in the text's order
    mol = Chem.MolFromSmiles("OCCS(C)=O")
    written = Chem.MolToSmiles(mol)
    assert written != "OCCS(C)=O"
    assert np.array_equal(_rows(plain_atom_types(mol, written)), _rows(atom_types(mol)))
    # a text whose P/S/I atoms are elsewhere in the molecule is not trusted
    swapped = Chem.MolFromSmiles("SCCO")
    assert np.array_equal(plain_atom_types(swapped, "OCCS"), atom_types(swapped))


def test_shortcuts_equal_the_full_read_on_bundled_molecules():
    smiles = TRICKY + pd.read_csv(REPO / "data" / "freesolv.csv")["smiles"].tolist()
    smiles += pd.read_parquet(REPO / "data" / "chembl_approved_drugs.parquet")["smiles"].tolist()
    assert _check(smiles) > 1500
    # the nitro group is charge-separated by RDKit though written plain
    types = atom_types(Chem.MolFromSmiles("CN(=O)=O"), plain=True)
    assert sorted(types[:, 1].tolist()) == [-1, 0, 0, 1]


@pytest.mark.skipif(not (SHARED / "screening" / "moses_test.csv.gz").exists(),
                    reason="shared data absent")
def test_shortcuts_equal_the_full_read_on_a_screening_library():
    smiles = pd.read_csv(SHARED / "screening" / "moses_test.csv.gz",
                         nrows=5_000).iloc[:, 0].tolist()
    assert _check(smiles) > 4_000


def test_packed_fingerprints_and_profiles_of_nothing():
    assert packed_fingerprints([]).shape == (0, 256)
    empty = profiles([], [])
    assert len(empty) == 0 and empty.desc.shape == (0, 13)
    assert descriptors([]).shape == (0, 13)


def test_profile_rows_read_one_molecule_at_a_time_give_the_same_profiles():
    """Rows read while each molecule is at hand (then freed), mixed with molecules or not,
    give the profiles of the block; descriptors assembled from the rows equal descriptors."""
    smiles = [s for s in TRICKY if Chem.MolFromSmiles(s) is not None]
    canon = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in smiles]
    mols = [Chem.MolFromSmiles(s) for s in canon]
    block = profiles(mols, canon)
    rows = [profile_row(m, s) for m, s in zip(mols, canon)]
    mixed = [r if i % 2 else m for i, (r, m) in enumerate(zip(rows, mols))]
    for got in (profiles(rows), profiles(mixed, canon)):
        np.testing.assert_array_equal(got.fingerprints, block.fingerprints)
        np.testing.assert_array_equal(got.desc, block.desc)
        assert all(np.array_equal(a, b) for a, b in zip(got.types, block.types))
    np.testing.assert_array_equal(packed_from_text([fingerprint_text(m) for m in mols]),
                                  packed_fingerprints(mols))
    values = [rdkit_values(m) for m in mols]
    np.testing.assert_array_equal(descriptors_from(values, [atom_types(m) for m in mols]),
                                  descriptors(mols))
    assert packed_from_text([]).shape == (0, 256) and descriptors_from([], []).shape == (0, 13)
