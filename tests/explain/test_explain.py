"""det.explain / molood.explain: explanations, reasons, depictions and the DataFrame view."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

import molood  # noqa: F401 - registers the accessor
from molood.explain import explain_scored
from molood.explain.depict import contribution_colour, depict, side_by_side
from molood.explain.frame import ExplanationFrame
from molood.explain.reasons import reasons
from molood.persist import load_model, sego_model_path


@pytest.fixture(scope="module")
def bundled():
    return load_model(sego_model_path())  # SEGO's atom-level explanations


def test_explain_the_bundled_models_outliers(bundled):
    se, etoh, bad = bundled.explain(["O=[Se](O)O", "CCO", "not a smiles"], k=2)
    assert se.is_ood and se.score == bundled.score(["O=[Se](O)O"])[0]
    assert se.pvalue == bundled.pvalue(["O=[Se](O)O"])[0]
    codes = [r.code for r in se.reasons]
    assert codes[:2] == ["unseen_element", "unseen_environment"] and "local_atoms" in codes
    assert "element Se not in the training set (atom 1)" in se.reason
    assert "Se1" in se.reason and se.marked_atoms == [0, 1, 2, 3]
    assert len(se.neighbours) == 2 and se.neighbours[0].similarity < 0.4
    assert etoh.neighbours[0].smiles == "CCO" and etoh.neighbours[0].similarity == 1.0
    assert etoh.reason == "no single driver" and not etoh.is_ood and etoh.marked_atoms == []
    assert bad.status.startswith("invalid_smiles") and bad.is_ood is None
    assert bad.reasons[0].code == "not_scored" and bad.svg() is None
    assert 0 < se.noise < se.atoms.max()


def test_text_svg_html_and_json(bundled, tmp_path):
    e = bundled.explain("CCOc1ccccc1[Se]C")[0]
    text = str(e)
    assert "score 4.42 = global +3.12 local +1.30" in text and "9  Se" in text
    assert "nearest training molecules" in text and "ethoxybenzene" in text
    doc = e.to_svg()
    root = ET.fromstring(doc.split("\n", 1)[1])  # well-formed, two drawings and captions
    assert root.tag.endswith("svg") and doc.count("<svg") == 3 and "Tanimoto 0.43" in doc
    assert "<svg" in e._repr_html_()
    d = json.loads(json.dumps(e.to_dict()))
    assert d["atoms"] and abs(sum(d["atoms"]) - d["terms"]["local"]) < 1e-9


def test_explain_with_an_explicit_reference(tiny_model):
    e = tiny_model.explain(["CCO"], reference=["CCO", "CCN"], k=5)[0]
    assert [n.smiles for n in e.neighbours] == ["CCO", "CCN"]


def test_every_detector_gets_neighbours_and_reasons(toy_molecule_detector):
    e = toy_molecule_detector.explain(["O=[Se](O)O"], reference=["CCO", "CC(=O)O"])[0]
    assert e.atoms is None and e.terms == {"score": e.score}
    assert e.reasons[0].code == "unseen_element" and e.neighbours[0].smiles == "CC(=O)O"
    assert "<svg" in e.to_svg()


def test_explain_scored_needs_no_detector(bundled):
    from molood.explain.reference import resolve_reference

    ref = resolve_reference(bundled)
    (e,) = explain_scored(["O=[Se](O)O"], [7.9], [0.015], [True], ["ok"], fpr=0.05,
                          reference=ref)
    assert e.atoms is None and e.reasons[0].code == "unseen_element" and e.neighbours


def test_reason_rules():
    base = dict(status="ok", is_ood=True, symbols=["C", "N", "O"], atoms=None, atom_term=None,
                noise=None, unseen_elements={}, unseen_radius=None, neighbour=None)
    assert [r.code for r in reasons(**{**base, "terms": {"global": 1.0}})] == ["diffuse"]
    r = reasons(**{**base, "terms": {"global": 2.5, "local": 3.0}, "atom_term": "local",
                   "atoms": np.array([0.1, 2.0, 0.9]), "noise": 0.5,
                   "neighbour": (0.85, "x")})
    assert [x.code for x in r] == ["graph_structure", "local_atoms", "close_analogue"]
    assert r[1].text == "atoms N1, O2 drive the local term (+3.0)"
    r = reasons(**{**base, "terms": {"local": 3.0}, "atom_term": "local",
                   "atoms": np.array([1.0, 1.0, 1.0]), "noise": 1.5, "is_ood": False,
                   "neighbour": (0.85, "x"), "unseen_radius": np.array([-1, 2, 1])})
    assert [x.code for x in r] == ["unseen_environment", "local_diffuse"]
    assert r[0].text == "1 atom in environments unseen in training: O2"
    assert reasons(**{**base, "status": "empty", "terms": {}})[0].text == "not scored: empty"


def test_depictions():
    assert contribution_colour(0.0) == (1.0, 1.0, 1.0)
    assert contribution_colour(5.0)[0] > 0.8 > contribution_colour(5.0)[2]
    assert contribution_colour(-1.0)[2] > contribution_colour(-1.0)[0]
    from rdkit import Chem

    mol = Chem.MolFromSmiles("CCO")
    pale = depict(mol, [0.01, 0.02, 0.0], scale=1.0)
    full = depict(mol, [0.01, 0.02, 0.0])  # scaled by its own max: atom 1 in full colour
    assert "<?xml" not in pale and pale.count("ellipse") < full.count("ellipse")
    ET.fromstring(side_by_side([(pale, "a"), (full, "b & c")], note="n").split("\n", 1)[1])
    assert depict(Chem.MolFromSmiles("[Na+]"), [0.0]).startswith("<svg")


def test_accessor_explain(tiny_model_path):
    df = pd.DataFrame({"smiles": ["CCO", None, "O=[Se](O)O"]}, index=["a", "b", "c"])
    ex = df.molood.explain(model=tiny_model_path)
    assert isinstance(ex, ExplanationFrame) and list(ex.index) == ["a", "b", "c"]
    np.testing.assert_array_equal(ex["molood_score"], df.molood.score(model=tiny_model_path))
    assert ex["molood_is_ood"].dtype == "boolean" and ex["molood_is_ood"].isna().tolist() == [
        False, True, False]
    assert "element Se" in ex.loc["c", "molood_reason"]
    assert abs(ex.loc["c", "molood_atom_contributions"].sum()
               - ex.loc["c", "molood_term_local"]) < 1e-9
    html = ex._repr_html_()
    assert html.count("<tr>") == 4 and html.count("<svg") >= 4
    assert isinstance(ex.head(1), ExplanationFrame)
    plain = ex.drop(columns="molood_explanation")
    assert "<svg" not in plain._repr_html_()


def test_frame_explain_finds_columns_and_missing_values_as_screen_does(tiny_model):
    """df.molood.explain() reads the frame as df.molood.screen() does: an RDKit-Mol column
    (e.g. ROMol from PandasTools.LoadSDF) and pd.NA cells work."""
    import pandas as pd
    from rdkit import Chem

    mols = pd.DataFrame({"ROMol": [Chem.MolFromSmiles("CCO"), None]})
    out = mols.molood.explain(model=tiny_model)
    assert out["molood_status"].tolist()[0] == "ok" and out["molood_status"].tolist()[1] != "ok"
    na = pd.DataFrame({"smiles": ["CCO", pd.NA]}).molood.explain(model=tiny_model)
    assert na["molood_score"].tolist()[0] == out["molood_score"].tolist()[0]
    assert pd.isna(na["molood_score"].tolist()[1])
