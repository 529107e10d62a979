"""molood explain: text, JSON and SVG output."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET


def test_explain_the_bundled_hybrid_model(molood):
    r = molood("explain", "default", "O=[Se](O)O")
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "flagged OOD at fpr 0.05" in out and "element Se not in the training set" in out
    assert "acetone" in out


def test_explain_the_bundled_sego_model(molood):
    r = molood("explain", "sego", "O=[Se](O)O")
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "score 7.48 = global -0.42 local +7.89" in out and "flagged OOD at fpr 0.05" in out
    assert "element Se not in the training set (atom 1)" in out
    assert "1  Se    +1.974 *  above noise" in out and "acetone" in out


def test_svg_and_json(molood, tmp_path, tiny_model_path):
    svg = tmp_path / "why.svg"
    r = molood("explain", tiny_model_path, "CCO", "c1ccccc1[Sn](C)(C)C", "--svg", svg,
               "--json", "-k", "2")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [d["input"] for d in data] == ["CCO", "c1ccccc1[Sn](C)(C)C"]
    assert len(data[1]["neighbours"]) == 2 and "Sn" in data[1]["unseen_elements"]
    for p in (tmp_path / "why-1.svg", tmp_path / "why-2.svg"):
        ET.fromstring(p.read_text().split("\n", 1)[1])
    one = tmp_path / "one.svg"
    assert molood("explain", tiny_model_path, "CCO", "--svg", one).exit_code == 0
    assert one.exists()


def test_explain_with_reference_and_errors(molood, tmp_path, tiny_model_path):
    ref = tmp_path / "ref.smi"
    ref.write_text("CCN amine\nCCCl chloride\n")
    r = molood("explain", tiny_model_path, "CCO", "--reference", ref, "-k", "1")
    assert r.exit_code == 0 and "CCN  amine" in r.stdout
    r = molood("explain", tmp_path / "missing.molood", "CCO")
    assert r.exit_code == 1 and "model file not found" in r.output
    r = molood("explain", tiny_model_path, "not a smiles")
    assert r.exit_code == 0 and "not scored: invalid_smiles" in r.stdout
