"""molood report and molood screen --report."""

from __future__ import annotations


def test_report_of_a_screened_file(molood, tmp_path, library_csv, tiny_model_path):
    screened = tmp_path / "s.parquet"
    report = tmp_path / "r.html"
    r = molood("screen", library_csv, "-o", screened, "--model", tiny_model_path, "-q",
               "--report", report)
    assert r.exit_code == 0, r.output
    html = report.read_text()
    assert html.count("<article class='card'") == 50 and "class='depiction neighbour'" in html
    again = tmp_path / "r2.html"
    r = molood("report", screened, "-o", again, "--top", "5", "--no-highlights")
    assert r.exit_code == 0, r.output
    assert "report of 58 rows" in r.stderr and again.read_text().count("class='card'") == 5


def test_report_options_and_errors(molood, tmp_path, library_csv, tiny_model_path):
    screened = tmp_path / "s.csv"
    assert molood("screen", library_csv, "-o", screened, "--model", tiny_model_path,
                  "-q").exit_code == 0
    r = molood("report", screened, "-o", tmp_path / "a.html", "--top", "2")
    assert r.exit_code == 0 and "no model found" in r.stderr
    r = molood("report", screened, "-o", tmp_path / "b.html", "--model", tiny_model_path,
               "--id-col", "value", "--top", "2")
    assert r.exit_code == 0 and "#1</span><span class='label'>" in (
        tmp_path / "b.html").read_text()
    r = molood("report", library_csv, "-o", tmp_path / "c.html")
    assert r.exit_code == 1 and "not a screened file" in r.output
    assert not (tmp_path / "c.html").exists()
    r = molood("report", screened, "-o", tmp_path / "d.html", "--id-col", "nope")
    assert r.exit_code == 1 and "no column 'nope'" in r.output


def test_report_summary_reaches_the_log_file(molood, tmp_path, library_csv, tiny_model_path):
    screened = tmp_path / "s.parquet"
    assert molood("screen", library_csv, "-o", screened, "--model", tiny_model_path,
                  "-q").exit_code == 0
    log = tmp_path / "run.log"
    r = molood("--log-file", log, "report", screened, "-o", tmp_path / "r.html", "--top", "2",
               "--no-highlights", "-q")
    assert r.exit_code == 0, r.output
    assert "report of 58 rows" not in r.stderr and "report of 58 rows" in log.read_text()
