"""molood.detectors.inputs: what identifies a training set (its hash keys)."""

from __future__ import annotations

from rdkit import Chem

from molood.chem.standardize import DEFAULT_STANDARDIZE, resolve_standardizer
from molood.detectors.inputs import canonical_keys, keys_sha256, to_graph_arrays


def test_keys_reuse_the_smiles_rdkit_wrote_and_equal_a_fresh_canonicalisation():
    """An input that is its own (standardised) canonical SMILES is its own key; every other
    input (another spelling, a salt standardisation changed, a Mol, no SMILES) is
    canonicalised as before, so the training-set hash does not change."""
    items = ["CCO", "OCC", "c1ccccc1O", "CC(=O)[O-].[Na+]", Chem.MolFromSmiles("CCN"),
             "not a smiles", " CCO", "C[N+](C)(C)C"]
    written: list = []
    to_graph_arrays(items, standardizer=resolve_standardizer(DEFAULT_STANDARDIZE),
                    smiles_out=written, featurize=False)
    assert written[:2] == ["CCO", "CCO"] and written[3] == "CC(=O)O" and written[5] is None
    fresh = canonical_keys(items)
    assert canonical_keys(items, written) == fresh
    assert fresh[3] == "CC(=O)[O-].[Na+]" and fresh[5] == "not a smiles"  # as given, not as scored
    assert keys_sha256(canonical_keys(items, written)) == keys_sha256(fresh)



def test_only_inputs_rdkit_did_not_write_are_canonicalised_again(monkeypatch):
    import molood.chem.parse as parse

    seen: list = []
    real = parse.canonical_smiles
    monkeypatch.setattr(parse, "canonical_smiles", lambda xs: seen.extend(xs) or real(xs))
    assert canonical_keys(["CCO", "OCC", "c1ccccc1"], ["CCO", "CCO", None]) == \
        ["CCO", "CCO", "c1ccccc1"]
    assert seen == ["OCC", "c1ccccc1"]
