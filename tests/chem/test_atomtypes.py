"""The hard atom-type rule (molood.chem.atomtypes)."""

from __future__ import annotations

from rdkit import Chem

from molood.chem.atomtypes import AtomTypeSet, atom_types


def _set(smiles):
    return AtomTypeSet.build([atom_types(Chem.MolFromSmiles(s)) for s in smiles])


def _viol(ts, smiles, loo=False):
    return ts.violations(atom_types(Chem.MolFromSmiles(smiles)), leave_one_out=loo)


def test_unseen_element_charge_radical_valence():
    ts = _set(["CCO", "CCN", "c1ccccc1", "CC(=O)O", "CS(C)=O"])
    assert _viol(ts, "CCO") == []
    assert _viol(ts, "[U]") == ["element U not in training set"]
    # an atom is reported by its first failing check only
    assert _viol(ts, "C[N+](C)(C)C") == ["charge +1 on N not in training set"]
    assert _viol(ts, "[CH3]") == ["radical C not in training set"]
    assert _viol(ts, "CS(C)(=O)=O") == ["valence 6 on S not in training set"]


def test_an_unseen_element_is_reported_once():
    ts = _set(["CCO"])
    assert _viol(ts, "[Gd+3]") == ["element Gd not in training set"]
    assert _viol(ts, "ClCCCl") == ["element Cl not in training set"]


def test_leave_one_out_counts_types_only_that_molecule_has():
    ts = _set(["CCO", "CCO", "CCCl"])
    assert _viol(ts, "CCO", loo=True) == []
    assert _viol(ts, "CCCl", loo=True) == ["element Cl not in training set"]
    assert _viol(ts, "CCCl") == []
