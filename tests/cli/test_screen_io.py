"""molood screen as a new user meets it: unwritable outputs refused up front, empty and damaged
inputs as one `Error:` line, --id-col, --json, --log-file, plain progress off a terminal, CLI
words in messages, singular counts."""

from __future__ import annotations

import gzip
import importlib
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from molood import _term as progress_mod
from molood.screening.workdir import work_dir_for

engine = importlib.import_module("molood.screening.engine")
FPR = ("--fpr", 0.05)
SDF = Path(__file__).resolve().parents[1] / "data" / "small.sdf"


def _one_error_line(r, *expect: str) -> str:
    errors = [ln for ln in r.output.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == 1 and "Traceback" not in r.output, r.output
    for text in expect:
        assert text in errors[0], errors[0]
    return errors[0]


def test_unwritable_output_is_refused_before_anything_runs(molood, tmp_path, monkeypatch,
                                                          library_csv):
    def never(*args, **kwargs):
        raise AssertionError("the engine must not start")

    monkeypatch.setattr(engine, "screen", never)
    for name in ("out.smi", "out.smi.gz", "out.xlsx"):
        r = molood("screen", library_csv, "-o", tmp_path / name)
        assert r.exit_code == 2, r.output
        _one_error_line(r, "writable file types are .parquet, .pq, .csv[.gz], .tsv[.gz], "
                           ".sdf[.gz], .sd[.gz]")
    assert "cannot write .smi (SMILES files are input only)" in molood(
        "screen", library_csv, "-o", tmp_path / "out.smi").output
    assert list(tmp_path.iterdir()) == []


def _truncated_gzip(path: Path, text: str) -> Path:
    data = gzip.compress(text.encode())
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("name", ["lib.csv.gz", "lib.sdf.gz", "lib.parquet", "empty.csv"])
def test_unreadable_input_is_one_error_line(molood, tmp_path, tiny_model_path, listdir, name):
    src = tmp_path / name
    if name == "lib.csv.gz":
        _truncated_gzip(src, "id,smiles\n" + "".join(f"m{i},CCO\n" for i in range(5000)))
        what = "cannot read: the file is truncated"
    elif name == "lib.sdf.gz":
        _truncated_gzip(src, SDF.read_text() * 50)
        what = "cannot read: the file is truncated"
    elif name == "lib.parquet":
        src.write_bytes(b"PAR1 this is no parquet file")
        what = "cannot read: not a readable Parquet file"
    else:
        src.write_text("")
        what = "the file is empty: a CSV file needs a header line"
    r = molood("screen", src, "-o", tmp_path / "out.parquet", "--model", tiny_model_path, *FPR)
    assert r.exit_code == 1
    _one_error_line(r, f"Error: {src}: {what}")
    assert listdir(tmp_path) == [name]


def test_damage_found_mid_file_keeps_parts_for_resume(molood, tmp_path, tiny_model_path,
                                                      library_rows):
    """Found after chunks were written: exit 1, no output, the chunks kept; the warning says
    how to continue in CLI words."""
    smiles = [r["smiles"] or "C" for r in library_rows] * 20
    src = tmp_path / "lib.smi.gz"
    _truncated_gzip(src, "".join(f"{s} m{i}\n" for i, s in enumerate(smiles)))
    out = tmp_path / "out.parquet"
    r = molood("screen", src, "-o", out, "--model", tiny_model_path, "--batch-size", 100,
               *FPR, "-q")
    assert r.exit_code == 1
    _one_error_line(r, "lib.smi.gz: cannot read: the file is truncated")
    assert not out.exists() and list(work_dir_for(out).glob("chunk-*.parquet"))
    warning = next(ln for ln in r.stderr.splitlines() if "kept in" in ln)
    assert "with --resume" in warning


def test_missing_column_message_names_the_option(molood, tmp_path, library_csv,
                                                 tiny_model_path):
    src = tmp_path / "lib.csv"
    src.write_text("id,structure\n1,CCO\n")
    r = molood("screen", src, "-o", tmp_path / "o.parquet", "--model", tiny_model_path, *FPR)
    _one_error_line(r, "no SMILES column found", "--smiles-col")


def test_json_summary_on_stdout(molood, tmp_path, library_csv, tiny_model_path):
    out = tmp_path / "out.parquet"
    r = molood("screen", library_csv, "-o", out, "--model", tiny_model_path, *FPR,
               "--json", "-q")
    assert r.exit_code == 0 and r.stderr == ""
    s = json.loads(r.stdout)
    df = pd.read_parquet(out)
    assert (s["rows"], s["scored"]) == (len(df), int((df["molood_status"] == "ok").sum()))
    assert s["flagged"] == int(df["molood_is_ood"].sum()) and s["output"] == str(out)
    assert s["status_counts"]["ok"] == s["scored"] and s["fpr"] == 0.05
    assert s["mol_per_s"] > 0 and len(s["model_sha256"]) == 64


def test_log_file_gets_progress_summary_and_errors(molood, tmp_path, library_csv,
                                                   tiny_model_path, monkeypatch):
    monkeypatch.setattr(progress_mod, "PROGRESS_SECONDS", 0.0)
    log = tmp_path / "run.log"
    r = molood("--log-file", log, "screen", library_csv, "-o", tmp_path / "o.parquet",
               "--model", tiny_model_path, "--batch-size", 20, *FPR)
    assert r.exit_code == 0
    text = log.read_text()
    assert "molood: screened 20/" in text and "molood: 58 rows: " in text and "mol/s" in text
    assert [ln.split(" molood: ", 1)[1] for ln in text.splitlines()] == [
        ln.split("molood: ", 1)[1] for ln in r.stderr.splitlines()]  # the same lines, stamped
    r = molood("--log-file", log, "screen", library_csv, "-o", tmp_path / "o.parquet",
               "--model", tiny_model_path, *FPR, "-q")
    assert r.exit_code == 0 and r.stderr == ""  # --quiet silences stderr, not the log file
    assert " molood: 58 rows: " in log.read_text().splitlines()[-1]
    r = molood("--log-file", log, "screen", tmp_path / "nope.csv", "-o", tmp_path / "x.parquet")
    assert r.exit_code == 1
    assert "Error: input file not found" in log.read_text().splitlines()[-1]
    r = molood("--log-file", log, "shard", "split", tmp_path / "o.parquet", "--shard-rows", 100,
               "-o", tmp_path / "shards")
    assert r.stderr == f"1 shard -> {tmp_path / 'shards'}\n"
    assert log.read_text().splitlines()[-1].endswith(f"molood: 1 shard -> {tmp_path / 'shards'}")


def test_progress_off_a_terminal_is_plain_lines(molood, tmp_path, library_csv,
                                                tiny_model_path, monkeypatch):
    """CliRunner's stderr is not a terminal, as a CI or Snakemake log: plain lines, no \\r,
    and the last thing said is the summary, once."""
    monkeypatch.setattr(progress_mod, "PROGRESS_SECONDS", 0.0)
    r = molood("screen", library_csv, "-o", tmp_path / "o.csv", "--model", tiny_model_path,
               "--batch-size", 25, *FPR)
    assert r.exit_code == 0, r.output
    assert "\r" not in r.stderr
    lines = r.stderr.splitlines()
    assert [ln.split(" rows")[0] for ln in lines if "screened" in ln] == [
        "molood: screened 25/58", "molood: screened 50/58", "molood: screened 58/58"]
    assert lines[-1].startswith("molood: 58 rows: ") and len(lines) == 4


def test_one_row_is_a_row(molood, tmp_path, tiny_model_path):
    src = tmp_path / "one.smi"
    src.write_text("CCO ethanol\n")
    r = molood("screen", src, "-o", tmp_path / "o.parquet", "--model", tiny_model_path, *FPR)
    assert r.stderr.splitlines()[-1].startswith("molood: 1 row: 1 scored")


def test_id_col(molood, tmp_path, tiny_model_path):
    out = tmp_path / "o.csv"
    r = molood("screen", SDF, "-o", out, "--model", tiny_model_path, *FPR, "--id-col", "ID")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out)
    assert df.columns[0] == "ID" and df["ID"][0] == "ethanol" and df["smiles"][0] == "CCO"
    help_text = " ".join(molood("screen", "--help").output.split())
    for text in ("--id-col", "--json", "canonical RDKit SMILES", "rdkit_smiles", "(143)"):
        assert text in help_text, text


def test_pandas_index_survives_the_cli(molood, tmp_path, tiny_model_path):
    src = tmp_path / "in.parquet"
    frame = pd.DataFrame({"smiles": ["CCO", "C"]}, index=pd.Index(["x", "y"], name="cid"))
    frame.to_parquet(src)
    out = tmp_path / "o.parquet"
    assert molood("screen", src, "-o", out, "--model", tiny_model_path, *FPR, "-q").exit_code == 0
    assert pd.read_parquet(out).index.tolist() == ["x", "y"]
    assert pq.read_table(out).column("cid").type == pq.read_schema(src).field("cid").type
