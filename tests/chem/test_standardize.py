"""molood.chem.standardize: the steps, their shortcuts against RDKit's own pipeline, the
configuration's specs, canonical atom order (any spelling, the same graph) and error reasons."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdkit import Chem, rdBase
from rdkit.Chem.MolStandardize import rdMolStandardize

from molood.chem import standardize as stdmod
from molood.chem.features import inputs_to_arrays, smiles_to_arrays
from molood.chem.standardize import (
    PRESETS,
    STEPS,
    Standardizer,
    featurizer_settings,
    resolve_standardizer,
    standardize_mol,
)
from molood.detectors.inputs import graph_arrays_sha256

REPO = Path(__file__).resolve().parents[2]
DEFAULT = Standardizer()

# every step has something to do in one of these
TRICKY = [
    "[2H]OC([2H])([2H])[2H]", "[13CH3]C(=O)O", "[2H][2H]", "[Na+].[Cl-]", "[Cl-].[Na+]",
    "CC(=O)[O-].[Na+]", "[Na]OC(=O)c1ccccc1", "[NH3+]CC(=O)[O-]", "C[N+](C)(C)C.[Br-]",
    "CS(C)=O", "C[S+](C)[O-]", "CP(=O)=O", "CN(=O)=O", "C[N+](=O)[O-]", "CN=N#N",
    "CN=[N+]=[N-]", "C=N#N", "O=n1ccccc1", "[O-][n+]1ccccc1", "[H]C([H])([H])O",
    "Oc1ccccn1", "O=c1cccc[nH]1", "CC(=O)C=C(C)O", "C[C@H](N)C(=O)O", "N[C@@H](C)C(=O)O",
    "[Cu+2].[O-]S(=O)(=O)[O-]", "c1ccccc1S(=O)(=O)[O-].[NH4+]", "C->[Fe]", "[CH2]CO",
    "OCCO.OCCO", "C1CC1.C1CCC1", "[Na+].[Na+].[O-]C(=O)CCC(=O)[O-]", "C[N+](C)=CC=CN(C)C",
]


def _corpus() -> list[str]:
    drugs = pd.read_parquet(REPO / "data" / "chembl_approved_drugs.parquet")["smiles"].tolist()
    free = pd.read_csv(REPO / "data" / "freesolv.csv")["smiles"].tolist()
    return drugs[::3] + free[::4] + TRICKY


def _same(ga, i: int, j: int) -> bool:
    """Graphs i and j of ``ga`` are identical, every array bit for bit."""
    return graph_arrays_sha256(ga.take([i])) == graph_arrays_sha256(ga.take([j]))


def _reference(mol: Chem.Mol, std: Standardizer) -> str:
    """RDKit's own functions, every step run unconditionally: what the shortcuts must equal."""
    if std.isotopes:
        mol = Chem.RemoveHs(rdMolStandardize.IsotopeParent(mol, skipStandardize=True))
    if std.cleanup:
        mol = rdMolStandardize.Cleanup(mol)
    if std.largest_fragment:
        mol = rdMolStandardize.LargestFragmentChooser().choose(mol)
    if std.neutralize:
        mol = rdMolStandardize.Uncharger(canonicalOrder=True).uncharge(mol)
    if std.tautomer:
        mol = rdMolStandardize.TautomerEnumerator().Canonicalize(mol)
    return Chem.MolToSmiles(mol)


@pytest.mark.parametrize("std", [DEFAULT, PRESETS["none"],
                                 Standardizer(cleanup=False, neutralize=False),
                                 Standardizer(isotopes=False, largest_fragment=False)],
                         ids=lambda s: s.spec)
def test_skipped_steps_change_nothing_rdkits_full_pipeline_would(std):
    """Steps are skipped when they cannot apply (module docstring); the result equals running
    RDKit's Cleanup, IsotopeParent, LargestFragmentChooser and Uncharger on every molecule,
    from SMILES text (text shortcuts) and from Mol objects (substructure shortcuts)."""
    block = rdBase.BlockLogs()
    checked = 0
    for smi in _corpus():
        mol = Chem.MolFromSmiles(smi)
        if mol is None:
            continue
        want = _reference(mol, std)
        for text in (smi, None):
            got = standardize_mol(mol, std, text)
            assert got.error is None, (smi, got.error)
            assert got.smiles == want, (smi, text)
            assert Chem.MolToSmiles(got.mol) == want
        checked += 1
    del block
    assert checked > 500


def test_tautomer_step_matches_rdkit():
    std = Standardizer(tautomer=True)
    for smi in ["Oc1ccccn1", "O=c1cccc[nH]1", "CC(=O)C=C(C)O", "CC(O)=CC(C)=O", "N=C(O)C"]:
        mol = Chem.MolFromSmiles(smi)
        assert standardize_mol(mol, std, smi).smiles == _reference(mol, std)
    assert (standardize_mol(Chem.MolFromSmiles("Oc1ccccn1"), std).smiles
            == standardize_mol(Chem.MolFromSmiles("O=c1cccc[nH]1"), std).smiles)


@pytest.mark.parametrize("a, b", [
    ("[2H]OC([2H])([2H])[2H]", "CO"),  # CD3OD scores as methanol
    ("[Na+].[Cl-]", "[Cl-].[Na+]"),
    ("CC(=O)[O-].[Na+]", "CC(=O)O"),
    ("[Na]OC(=O)c1ccccc1", "OC(=O)c1ccccc1"),
    ("CS(C)=O", "C[S+](C)[O-]"),
    ("CN=N#N", "CN=[N+]=[N-]"),
    ("OCC", "CCO"),
])
def test_default_standardisation_makes_one_form(a, b):
    got, want = (standardize_mol(Chem.MolFromSmiles(s), DEFAULT, s) for s in (a, b))
    assert got.error is None and got.smiles == want.smiles
    ga, errors = smiles_to_arrays([a, b], standardizer=DEFAULT)
    assert errors == [None, None]
    assert _same(ga, 0, 1)


def _random_spellings(smiles: str, n: int, seed: int) -> list[str]:
    """``smiles`` and ``n`` spellings from random atom orders (seeded, so reproducible)."""
    mol = Chem.MolFromSmiles(smiles)
    out = [smiles]
    for k in range(n):
        order = np.random.RandomState(seed + k).permutation(mol.GetNumAtoms()).tolist()
        out.append(Chem.MolToSmiles(Chem.RenumberAtoms(mol, order), canonical=False))
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(smiles=st.sampled_from(["CC(C)Cc1ccc(cc1)C(C)C(=O)O", "CN1CCC[C@H]1c1cccnc1",
                               "O=C(O)c1ccccc1OC(=O)C", "F/C=C/Cl", "C[C@H](N)C(=O)[O-].[Na+]",
                               "OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O", "c1ccc2[nH]ccc2c1"]),
       seed=st.integers(0, 10_000))
def test_any_spelling_gives_the_same_graph(smiles, seed):
    """Canonical atom order: every spelling featurizes to the same graph, bit for bit
    (without it, atom and bond order, and chiral tags, follow the spelling)."""
    spellings = _random_spellings(smiles, 4, seed)
    for std in (DEFAULT, PRESETS["none"]):
        ga, errors = smiles_to_arrays(spellings, standardizer=std)
        assert errors == [None] * len(spellings)
        for i in range(1, len(spellings)):
            assert _same(ga, i, 0), (spellings[0], spellings[i])


def test_without_standardizer_molecules_are_featurized_as_written():
    """Models without standardisation (None) keep their graphs: the atom order of the input."""
    a, _ = smiles_to_arrays(["CCO"])
    b, _ = smiles_to_arrays(["OCC"])
    assert graph_arrays_sha256(a) != graph_arrays_sha256(b)
    out: list = []
    _, errors = smiles_to_arrays(["OCC", "[2H]C", "CCO.[Na+]"], smiles_out=out,
                                 largest_fragment=True)
    assert errors == [None] * 3 and out == ["CCO", "[2H]C", "CCO"]


def test_smiles_out_holds_what_was_scored_and_none_for_errors():
    out: list = []
    _, errors = inputs_to_arrays(["OCC", "nope", None, "[Na+].[Cl-]", "C" * 20],
                                 standardizer=DEFAULT, smiles_out=out, max_atoms=10)
    assert out == ["CCO", None, None, "Cl", None]
    assert errors[1].startswith("invalid_smiles") and errors[2] == "empty"
    assert errors[4] == "too_large: 20 atoms (max_atoms=10)"
    blocks = [Chem.MolToMolBlock(Chem.MolFromSmiles("OCC.[Na+]")), None]
    out = []
    _, errors = inputs_to_arrays(blocks, "molblock", standardizer=DEFAULT, smiles_out=out)
    assert out == ["CCO", None] and errors == [None, "empty"]


def test_mols_are_taken_as_they_are_and_not_modified():
    mol = Chem.MolFromSmiles("[2H]OC([2H])([2H])[2H]")
    before = Chem.MolToSmiles(mol)
    ga, errors = smiles_to_arrays([mol, "CO", Chem.Mol()], standardizer=DEFAULT)
    assert errors == [None, None, "empty"]
    assert _same(ga, 0, 1)
    assert Chem.MolToSmiles(mol) == before


def test_max_atoms_counts_the_standardised_molecule():
    chain = Chem.MolFromSmiles("C" * 1500)
    assert standardize_mol(chain, DEFAULT, None, max_atoms=1000).error == (
        "too_large: 1500 atoms (max_atoms=1000)")
    # 600 heavy atoms + 1,202 deuterium atoms: 1,802 atoms as written, 600 standardised
    deut = Chem.AddHs(Chem.MolFromSmiles("C" * 600))
    for a in deut.GetAtoms():
        if a.GetAtomicNum() == 1:
            a.SetIsotope(2)
    assert deut.GetNumAtoms() == 1802
    got = standardize_mol(deut, DEFAULT, None, max_atoms=1000)
    assert got.error is None and got.mol.GetNumAtoms() == 600
    # fragments: the cap applies to the kept one
    _, errors = smiles_to_arrays(["CCO." + "C" * 1500, ".".join(["CCO"] * 2000)],
                                 standardizer=DEFAULT, max_atoms=1000)
    assert errors == ["too_large: 1500 atoms (max_atoms=1000)", None]
    _, errors = smiles_to_arrays([".".join(["CCO"] * 2000)], max_atoms=1000,
                                 standardizer=Standardizer(largest_fragment=False))
    assert errors == ["too_large: 6000 atoms (max_atoms=1000)"]


def test_errors_are_reasons_not_exceptions(monkeypatch):
    def boom(mol, std, text):
        raise RuntimeError("boom")

    monkeypatch.setattr(stdmod, "_standardize", boom)
    _, errors = smiles_to_arrays(["CCO", None], standardizer=DEFAULT)
    assert errors == ["standardize_error: RuntimeError: boom", "empty"]


def test_nothing_left_is_empty():
    mol = Chem.RWMol()
    mol.AddAtom(Chem.Atom(1))
    mol.GetAtomWithIdx(0).SetIsotope(2)
    mol.GetAtomWithIdx(0).SetNoImplicit(True)
    got = standardize_mol(mol.GetMol(), DEFAULT)
    assert got.error in (None, "empty")


# ------------------------------------------------------------------ the configuration
def test_every_configuration_round_trips_through_its_spec_and_dict():
    for flags in itertools.product([False, True], repeat=len(STEPS)):
        std = Standardizer(**dict(zip(STEPS, flags)))
        assert resolve_standardizer(std.spec) == std
        assert resolve_standardizer(std.to_dict()) == std
        assert std.describe().startswith(std.spec + ":")
    assert DEFAULT.spec == "default" and PRESETS["none"].spec == "none"
    assert Standardizer(tautomer=True).spec == "default,tautomer"
    assert Standardizer(isotopes=False).spec == "default,-isotopes"


@pytest.mark.parametrize("spec, want", [
    ("default", DEFAULT),
    (" Default + Tautomer ", Standardizer(tautomer=True)),
    ("none", Standardizer(False, False, False, False, False)),
    ("cleanup,fragment", Standardizer(isotopes=False, neutralize=False)),
    ("default,-neutralise", Standardizer(neutralize=False)),
    ({"tautomer": True}, Standardizer(tautomer=True)),
    ('{"largest_fragment": false}', Standardizer(largest_fragment=False)),
    (None, None),
])
def test_resolve_standardizer(spec, want):
    assert resolve_standardizer(spec) == want


@pytest.mark.parametrize("spec, error", [("", ValueError), ("defualt", ValueError),
                                         ("cleanup,magic", ValueError), ("{nope", ValueError),
                                         ({"magic": True}, ValueError),
                                         ({"cleanup": 1}, TypeError), (3, TypeError)])
def test_bad_specs_are_refused(spec, error):
    with pytest.raises(error, match="standardize"):
        resolve_standardizer(spec)


def test_largest_fragment_parameter_switches_the_fragment_step():
    assert featurizer_settings("default", None) == (DEFAULT, False)
    assert featurizer_settings("default", False) == (Standardizer(largest_fragment=False), False)
    assert featurizer_settings("none", True) == (
        Standardizer(False, False, True, False, False), False)
    # no standardisation: the featurizer's own rule, as models before it
    assert featurizer_settings(None, True) == (None, True)
    assert featurizer_settings(None, None) == (None, False)
    with pytest.raises(ValueError, match="largest_fragment"):
        featurizer_settings("default", "yes")
