"""molood.chem.parse: quiet RDKit parsing with one reason per failed row, dispatched by kind."""

from __future__ import annotations

import pytest
from rdkit import Chem

from molood.chem.parse import INPUT_KINDS, check_kind, parse, parse_molblock, parse_smiles

_BLOCK = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO"))


def test_parse_dispatches_on_kind():
    mol, err = parse("CCO")  # SMILES by default
    assert err is None and mol.GetNumAtoms() == 3
    mol, err = parse(_BLOCK, "molblock")
    assert err is None and Chem.MolToSmiles(mol) == "CCO"
    # the same value means different things to the two kinds
    assert parse(_BLOCK, "smiles")[1].startswith("invalid_smiles")
    assert parse("CCO", "molblock")[1].startswith("sdf_parse_error")


@pytest.mark.parametrize("kind,fn", [("smiles", parse_smiles), ("molblock", parse_molblock)])
@pytest.mark.parametrize("value", [None, "", "   ", float("nan"), "C1CC", "junk", 3])
def test_parse_equals_the_kinds_parser(kind, fn, value):
    assert parse(value, kind)[1] == fn(value)[1]


def test_reasons(capfd):
    assert parse_smiles(None) == (None, "empty")
    assert parse_smiles("N(C)(C)(C)(C)C")[1].startswith("invalid_smiles: Explicit valence")
    assert parse_molblock("\n  x\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END") == (
        None, "empty")  # a record without atoms
    assert "valence" not in capfd.readouterr().err  # RDKit's log is captured, not printed


def test_unknown_kind_is_refused():
    assert check_kind("smiles") == "smiles" and INPUT_KINDS == ("smiles", "molblock")
    with pytest.raises(ValueError, match="input kind"):
        parse("CCO", "inchi")  # type: ignore[arg-type]
