"""build_report / df.molood.report: a self-contained HTML file with what the issue lists."""

from __future__ import annotations

import re
import subprocess
import sys

import pandas as pd
import pytest

import molood  # noqa: F401 - registers the accessor
from molood.report import build_report


def _self_contained(html: str) -> None:
    assert "<script" not in html.lower() and "<link" not in html.lower()
    refs = re.findall(r"(?:href|src)\s*=\s*[\"']([^\"']*)", html)
    assert all(r.startswith("#") for r in refs), refs
    assert all(u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", html))
    assert "@import" not in html


@pytest.fixture(scope="module")
def parquet_report(screened, tmp_path_factory):
    out = tmp_path_factory.mktemp("r") / "report.html"
    return build_report(screened["parquet"], out, top=8), out.read_text()


def test_report_sections(parquet_report, tiny_model_path):
    result, html = parquet_report
    _self_contained(html)
    s = result.summary
    assert result.model is not None and result.model.path == str(tiny_model_path.resolve())
    assert html.count("<article class='card'") == 8 == len(s.top)
    assert html.count("<figure class='depiction query'>") == 8
    assert html.count("<figure class='depiction neighbour'>") == 8  # the model has a reference
    assert "<figure class='histogram'><svg" in html and "calibration ID molecules" in html
    assert f">{s.top[0].label}<" in html and s.top[0].label.startswith("m")
    for text in (f"{s.rows:,}", "flagged OOD", "fpr, threshold", "training set", "sha256",
                 "Reasons among the top 8", "Invalid rows", "invalid_smiles", "empty",
                 "expected of in-distribution molecules", "nearest training molecule"):
        assert text in html, text
    assert result.scan_seconds <= result.seconds


def test_csv_needs_a_model_to_say_more(screened, tmp_path, tiny_model_path):
    r = build_report(screened["csv"], tmp_path / "a.html", top=3)
    html = (tmp_path / "a.html").read_text()
    assert r.model is None and "not found" in html
    assert html.count("<article class='card'") == 3  # still the top molecules, drawn plain
    assert html.count("class='depiction query'") == 3 and "depiction neighbour" not in html
    r = build_report(screened["csv"], tmp_path / "b.html", top=3, model=tiny_model_path,
                     fpr=0.2)
    html = (tmp_path / "b.html").read_text()
    assert r.model is not None and "0.2, score &gt;" in html
    assert html.count("class='depiction query'") == 3


def test_sdf_report_labels_by_title(screened, tmp_path, tiny_model_path):
    build_report(screened["sdf"], tmp_path / "s.html", top=2, model=tiny_model_path)
    html = (tmp_path / "s.html").read_text()
    _self_contained(html)
    assert "sdf_parse_error" in html and html.count("class='depiction query'") == 2


def test_another_models_file_gets_a_warning(screened, tmp_path):
    from molood.persist import default_model_path

    build_report(screened["parquet"], tmp_path / "w.html", top=2, model=default_model_path())
    assert "class='warn'" in (tmp_path / "w.html").read_text()


def test_without_highlights_no_torch_is_imported(screened, tmp_path):
    out = tmp_path / "n.html"
    code = ("import sys; from molood.report import build_report; "
            f"r = build_report({str(screened['parquet'])!r}, {str(out)!r}, top=3, "
            "highlights=False); "
            "assert 'torch' not in sys.modules and 'dgl' not in sys.modules; "
            "assert r.model is not None")
    subprocess.run([sys.executable, "-c", code], check=True)
    html = out.read_text()
    assert html.count("class='depiction neighbour'") == 3 and "score <b>" in html


def test_dataframe_report(tmp_path, tiny_model_path):
    df = pd.DataFrame({"smiles": ["CCO", "c1ccccc1", "O=[Se](O)O", "oops"]},
                      index=["ethanol", "benzene", "selenious acid", "typo"])
    path = df.molood.report(tmp_path / "df.html", model=tiny_model_path, top=2)
    html = (tmp_path / "df.html").read_text()
    assert str(path).endswith("df.html") and "selenious acid" in html
    assert html.count("<article class='card'") == 2 and "invalid_smiles" in html
