"""molood.screening.engine: the streaming engine (order, invariance, formats, metadata, resume)."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import molood
from molood.screening.columns import OUTPUT_COLUMNS
from molood._fs import file_sha256
from molood.exceptions import MoloodInputError
from molood.screening.scoring import score_frame
from molood.screening.workdir import MoloodResumeError, work_dir_for

TEST_DATA = Path(__file__).resolve().parents[1] / "data"
screen_mod = importlib.import_module("molood.screening.engine")


def run(inp, out, model, **kw):
    return molood.screen(inp, out, model=model, **kw)


def read(path) -> pd.DataFrame:
    return pd.read_parquet(path)


def leftovers(directory: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


# ----------------------------------------------------------------------------- basics
def test_every_row_once_in_order_with_status(tmp_path, library_csv, library_rows, tiny_model_path):
    out = tmp_path / "out.parquet"
    s = run(library_csv, out, tiny_model_path)
    df = read(out)
    assert list(df.columns) == ["id", "smiles", "value", *OUTPUT_COLUMNS]
    assert df["id"].tolist() == [r["id"] for r in library_rows]
    assert df["value"].tolist() == [r["value"] for r in library_rows]  # CSV text kept as is
    status = dict(zip(df["smiles"], df["molood_status"]))
    assert status["not_a_smiles"].startswith("invalid_smiles: ")
    assert status[""] == "empty"
    assert status["C1CC"].startswith("invalid_smiles: ")
    assert "valence" in status["N(C)(C)(C)(C)C"].lower()
    assert status["[Na+].[Cl-]"] == "ok"
    ok = df["molood_status"] == "ok"
    assert df.loc[ok, "molood_score"].notna().all() and df.loc[~ok, "molood_score"].isna().all()
    assert df.loc[~ok, "molood_pvalue"].isna().all() and df.loc[~ok, "molood_is_ood"].isna().all()
    assert df.loc[ok, "molood_is_ood"].notna().all()
    assert ((df.loc[ok, "molood_pvalue"] > 0) & (df.loc[ok, "molood_pvalue"] <= 1)).all()
    assert (s.rows, s.scored, s.invalid) == (len(df), int(ok.sum()), int((~ok).sum()))
    assert s.flagged == int(df["molood_is_ood"].sum())
    # duplicates score identically
    ccos = df.loc[df["smiles"] == "CCO", "molood_score"]
    assert len(ccos) == 2 and ccos.iloc[0] == ccos.iloc[1]
    assert leftovers(tmp_path, {"out.parquet"}) == []
    assert "rows" in str(s) and "mol/s" in str(s)


def test_scores_match_the_detector(tmp_path, library_csv, tiny_model, tiny_model_path):
    out = tmp_path / "out.parquet"
    run(library_csv, out, tiny_model_path, fpr=0.1)
    df = read(out)
    expect = tiny_model.score(df["smiles"].tolist())
    np.testing.assert_array_equal(df["molood_score"].to_numpy(float), expect)
    p = tiny_model.pvalues_from_scores(df["molood_score"].to_numpy(float))
    np.testing.assert_array_equal(df["molood_pvalue"].to_numpy(float), p)
    ok = df["molood_status"] == "ok"
    flags = tiny_model.predict(df.loc[ok, "smiles"].tolist(), fpr=0.1)
    np.testing.assert_array_equal(df.loc[ok, "molood_is_ood"].to_numpy(bool), flags)
    # flag <=> score > threshold(fpr)
    thr = tiny_model.threshold(0.1)
    np.testing.assert_array_equal(flags, df.loc[ok, "molood_score"].to_numpy(float) > thr)


def test_parquet_metadata(tmp_path, library_csv, tiny_model_path, tiny_model):
    out = tmp_path / "out.parquet"
    run(library_csv, out, tiny_model_path, fpr=0.1)
    md = {k.decode(): v.decode() for k, v in pq.read_schema(out).metadata.items()}
    assert md["molood_model_sha256"] == file_sha256(tiny_model_path)
    assert md["molood_version"] == molood.__version__
    assert Path(md["molood_model_path"]) == Path(tiny_model_path).resolve()
    assert float(md["molood_fpr"]) == 0.1
    assert float(md["molood_threshold"]) == tiny_model.threshold(0.1)


@pytest.mark.parametrize("source,workers", [("file", 1), ("file", 2), ("memory", 1)])
def test_default_fpr_is_the_models(tmp_path, library_csv, fpr02_model, fpr02_model_path,
                                   source, workers):
    """No fpr given: the model's own (0.2 here), in the flags, the summary and the metadata."""
    model = fpr02_model_path if source == "file" else fpr02_model
    out, ref = tmp_path / "out.parquet", tmp_path / "ref.parquet"
    s = run(library_csv, out, model, workers=workers)
    run(library_csv, ref, model, fpr=0.2)
    assert s.fpr == 0.2 and s.threshold == fpr02_model.threshold(0.2)
    md = pq.read_schema(out).metadata
    assert float(md[b"molood_fpr"]) == 0.2
    assert float(md[b"molood_threshold"]) == fpr02_model.threshold(0.2)
    pd.testing.assert_frame_equal(read(out), read(ref))
    at_05 = run(library_csv, tmp_path / "o5.parquet", model, fpr=0.05)
    assert at_05.flagged < s.flagged


@pytest.mark.parametrize("workers,batch_size", [(1, 7), (1, 250), (2, 10)])
def test_invariant_to_workers_and_chunking(tmp_path, library_csv, tiny_model_path, workers,
                                           batch_size):
    ref = tmp_path / "ref.parquet"
    run(library_csv, ref, tiny_model_path)
    out = tmp_path / "out.parquet"
    s = run(library_csv, out, tiny_model_path, workers=workers, batch_size=batch_size)
    a, b = read(ref), read(out)
    assert s.workers == workers and s.batch_size == batch_size
    pd.testing.assert_frame_equal(a, b)  # bitwise, whatever the chunking


def test_score_frame_matches_screen_bitwise(tmp_path, library_csv, tiny_model_path):
    out = tmp_path / "out.parquet"
    run(library_csv, out, tiny_model_path)
    df = read(out)
    res = score_frame(pd.read_csv(library_csv, keep_default_na=False), model=tiny_model_path)
    np.testing.assert_array_equal(res["molood_score"].to_numpy(float),
                                  df["molood_score"].to_numpy(float))
    assert res["molood_status"].tolist() == df["molood_status"].tolist()


# ----------------------------------------------------------------------------- formats
def test_csv_output_keeps_text(tmp_path, library_csv, tiny_model_path):
    out = tmp_path / "out.csv"
    run(library_csv, out, tiny_model_path)
    back = pd.read_csv(out, dtype=str, keep_default_na=False)
    orig = pd.read_csv(library_csv, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(back[orig.columns], orig)
    assert set(back["molood_is_ood"]) <= {"True", "False", ""}
    ref = read_via_parquet(tmp_path, library_csv, tiny_model_path)
    np.testing.assert_array_equal(pd.to_numeric(back["molood_score"]).to_numpy(float),
                                  ref["molood_score"].to_numpy(float))


def read_via_parquet(tmp_path, inp, model):
    out = tmp_path / "via.parquet"
    run(inp, out, model)
    return read(out)


def test_sdf_in_sdf_out(tmp_path, tiny_model_path):
    src = TEST_DATA / "small.sdf"
    out = tmp_path / "out.sdf"
    s = run(src, out, tiny_model_path, batch_size=2)
    text = out.read_text()
    records = [r for r in text.split("$$$$\n") if r.strip()]
    assert len(records) == s.rows == src.read_text().count("$$$$")
    assert records[0].startswith("ethanol\n")
    assert "    1.2990    0.7500    0.0000 C" in records[0]  # the record's own coordinates
    assert ">  <id>\nA1" in records[0] and ">  <activity>\n1.5" in records[0]
    assert ">  <molood_status>\nok" in records[0] and ">  <molood_score>\n" in records[0]
    assert ">  <molood_status>\nsdf_parse_error: " in records[1]  # the broken record is kept
    assert ">  <molood_score>" not in records[1]
    # SD -> parquet: title and properties as columns
    pq_out = tmp_path / "out.parquet"
    run(src, pq_out, tiny_model_path)
    df = read(pq_out)
    assert df.columns[0] == "_Name" and {"id", "activity"} <= set(df.columns)
    assert len(df) == s.rows and df["_Name"].iloc[0] == "ethanol"


def test_smi_input_and_gz_csv(tmp_path, tiny_model_path):
    smi = tmp_path / "lib.smi"
    smi.write_text("CCO ethanol\nnot_a_smiles bad\nc1ccccc1 benzene\n")
    out = tmp_path / "out.parquet"
    run(smi, out, tiny_model_path)
    df = read(out)
    assert df["name"].tolist() == ["ethanol", "bad", "benzene"]
    assert df["molood_status"].tolist()[0] == "ok"
    gz = tmp_path / "lib.csv.gz"
    pd.DataFrame({"SMILES": ["CCO", "c1ccccc1"]}).to_csv(gz, index=False)
    run(gz, tmp_path / "gz.csv", tiny_model_path)
    back = pd.read_csv(tmp_path / "gz.csv")
    assert back["SMILES"].tolist() == ["CCO", "c1ccccc1"]
    np.testing.assert_array_equal(back["molood_score"].to_numpy(float),
                                  df["molood_score"].to_numpy(float)[[0, 2]])


def test_parquet_types_kept(tmp_path, tiny_model_path):
    src = tmp_path / "in.parquet"
    t = pa.table({"n": pa.array([1, None, 3], pa.int64()), "smiles": ["CCO", None, "C"],
                  "flag": pa.array([True, None, False]),
                  "f32": pa.array([1.5, 2, 3], pa.float32())})
    pq.write_table(t, src)
    out = tmp_path / "out.parquet"
    run(src, out, tiny_model_path, batch_size=1)
    back = pq.read_table(out)
    assert back.schema.field("n").type == pa.int64()
    assert back.schema.field("f32").type == pa.float32()
    assert back.column("n").to_pylist() == [1, None, 3]
    assert back.column("flag").to_pylist() == [True, None, False]
    assert back.column("molood_status").to_pylist()[1] == "empty"
    assert back.schema.field("molood_is_ood").type == pa.bool_()


def test_empty_input(tmp_path, tiny_model_path):
    src = tmp_path / "empty.csv"
    src.write_text("id,smiles\n")
    out = tmp_path / "out.parquet"
    s = run(src, out, tiny_model_path)
    assert s.rows == 0
    assert pq.read_schema(out).names == ["id", "smiles", *OUTPUT_COLUMNS]


def test_existing_result_columns_are_replaced(tmp_path, library_csv, tiny_model_path):
    first = tmp_path / "first.parquet"
    run(library_csv, first, tiny_model_path)
    second = tmp_path / "second.parquet"
    run(first, second, tiny_model_path)
    a, b = read(first), read(second)
    assert list(b.columns) == list(a.columns)
    pd.testing.assert_frame_equal(a, b)


def test_in_memory_detector(tmp_path, library_csv, tiny_model, tiny_model_path):
    out_a, out_b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    run(library_csv, out_a, tiny_model_path)
    s = run(library_csv, out_b, tiny_model, workers=2, batch_size=20)
    assert s.model_path.startswith("<in-memory")
    np.testing.assert_array_equal(read(out_a)["molood_score"], read(out_b)["molood_score"])


@pytest.mark.parametrize("kwargs,exc,match", [
    ({"inp": "missing.csv"}, FileNotFoundError, "missing.csv"),
    ({"inp": "lib.xyz"}, MoloodInputError, "unknown file type"),
    ({"out": "out.xyz"}, MoloodInputError, "unknown file type"),
    ({"out": "out.smi"}, MoloodInputError, "cannot write .smi"),
    ({"smiles_col": "nope"}, MoloodInputError, "columns are"),
    ({"fpr": 0.0}, ValueError, "fpr"),
])
def test_errors_leave_nothing(tmp_path, library_csv, tiny_model_path, kwargs, exc, match):
    d = tmp_path / "run"
    d.mkdir()
    inp = library_csv if "inp" not in kwargs else d / kwargs.pop("inp")
    if inp.suffix == ".xyz":
        inp.write_text("x")
    out = d / kwargs.pop("out", "out.parquet")
    with pytest.raises(exc, match=match):
        run(inp, out, tiny_model_path, **kwargs)
    assert leftovers(d, {"lib.xyz"}) == []


def test_bad_model_file(tmp_path, library_csv):
    from molood.persist import MoloodModelError

    bad = tmp_path / "bad.molood"
    bad.write_bytes(os.urandom(300))
    with pytest.raises(MoloodModelError):
        run(library_csv, tmp_path / "out.parquet", bad)
    assert leftovers(tmp_path, {"bad.molood"}) == []


# ----------------------------------------------------------------------------- resume
class Boom(Exception):
    pass


def interrupted_run(monkeypatch, inp, out, model, after: int,
                    exc: type[BaseException] = KeyboardInterrupt, **kw) -> None:
    """Run a screen that fails with ``exc`` when it writes part ``after`` (after ``after``
    finished chunks), as a Ctrl-C, a kill or a crash would."""
    real = screen_mod.write_part
    calls = {"n": 0}

    def flaky(wd, i, table):
        if calls["n"] == after:
            raise exc("injected")
        calls["n"] += 1
        real(wd, i, table)

    with monkeypatch.context() as m:
        m.setattr(screen_mod, "write_part", flaky)
        with pytest.raises(exc):
            run(inp, out, model, **kw)


@pytest.mark.parametrize("out_name,workers", [("out.parquet", 1), ("out.csv", 2), ("out.sdf", 1)])
def test_resume_after_interrupt_is_byte_identical(tmp_path, library_csv, tiny_model_path,
                                                  monkeypatch, out_name, workers):
    ref = tmp_path / ("ref" + Path(out_name).suffix)
    run(library_csv, ref, tiny_model_path, batch_size=10)
    out = tmp_path / out_name
    interrupted_run(monkeypatch, library_csv, out, tiny_model_path, 3, batch_size=10,
                    workers=workers)
    wd = work_dir_for(out)
    assert not out.exists() and not Path(str(out) + ".part").exists()
    assert sorted(p.name for p in wd.glob("chunk-*.parquet")) == [
        f"chunk-{i:08d}.parquet" for i in range(3)]
    s = run(library_csv, out, tiny_model_path, resume=True)  # batch size taken from the state
    assert s.resumed_rows == 30 and s.batch_size == 10
    assert out.read_bytes() == ref.read_bytes()
    assert not wd.exists()


def test_other_errors_keep_finished_chunks(tmp_path, library_csv, tiny_model_path, monkeypatch):
    out = tmp_path / "out.parquet"
    interrupted_run(monkeypatch, library_csv, out, tiny_model_path, 2, Boom, batch_size=10)
    assert not out.exists() and len(list(work_dir_for(out).glob("chunk-*"))) == 2
    # without resume the old chunks are discarded and the run starts over
    s = run(library_csv, out, tiny_model_path, batch_size=10)
    assert s.resumed_rows == 0 and not work_dir_for(out).exists()


def test_failure_before_first_chunk_leaves_nothing(tmp_path, library_csv, tiny_model_path,
                                                   monkeypatch):
    interrupted_run(monkeypatch, library_csv, tmp_path / "out.parquet", tiny_model_path, 0, Boom)
    assert leftovers(tmp_path, set()) == []


@pytest.mark.parametrize("change,match", [
    ({"fpr": 0.1}, "fpr"),
    ({"batch_size": 20}, "chunk_size"),
    ({"touch": True}, "input_"),
])
def test_resume_refuses_other_settings(tmp_path, library_csv, tiny_model_path, monkeypatch,
                                       change, match):
    inp = tmp_path / "lib.csv"
    inp.write_bytes(library_csv.read_bytes())
    out = tmp_path / "out.parquet"
    interrupted_run(monkeypatch, inp, out, tiny_model_path, 2, batch_size=10)
    kw = {"batch_size": 10, "fpr": 0.05}
    if change.pop("touch", False):
        with open(inp, "a") as fh:
            fh.write("zz,CC,1\n")
    kw.update(change)
    with pytest.raises(MoloodResumeError, match=match):
        run(inp, out, tiny_model_path, resume=True, **kw)
    assert len(list(work_dir_for(out).glob("chunk-*"))) == 2  # still resumable


def test_resume_without_work_dir_runs_from_start(tmp_path, library_csv, tiny_model_path):
    out = tmp_path / "out.parquet"
    s = run(library_csv, out, tiny_model_path, resume=True)
    assert s.resumed_rows == 0 and out.exists()


def test_resume_redoes_a_corrupt_part(tmp_path, library_csv, tiny_model_path, monkeypatch):
    ref = tmp_path / "ref.parquet"
    run(library_csv, ref, tiny_model_path, batch_size=10)
    out = tmp_path / "out.parquet"
    interrupted_run(monkeypatch, library_csv, out, tiny_model_path, 3, batch_size=10)
    wd = work_dir_for(out)
    (wd / "chunk-00000002.parquet").write_bytes(b"garbage")  # e.g. lost in a power cut
    (wd / "chunk-00000003.parquet.part").write_bytes(b"half")
    s = run(library_csv, out, tiny_model_path, resume=True)
    assert s.resumed_rows == 20
    assert out.read_bytes() == ref.read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_killed_cli_run_resumes(tmp_path, tiny_model_path, library_rows, sig):
    rows = library_rows * 8  # ~460 rows, 46 chunks of 10
    inp = tmp_path / "lib.csv"
    pd.DataFrame(rows).to_csv(inp, index=False)
    out = tmp_path / "out.parquet"
    ref = tmp_path / "ref.parquet"
    run(inp, ref, tiny_model_path, batch_size=10)
    cmd = [sys.executable, "-m", "molood.cli", "screen", str(inp), "-o", str(out), "--model",
           str(tiny_model_path), "--batch-size", "10", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wd = work_dir_for(out)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(wd.glob("chunk-*.parquet"))) < 2:
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err.decode()
        assert b"interrupted" in err and b"--resume" in err
    elif sig == signal.SIGTERM:  # 128 + 15, as a shell reports a process killed by SIGTERM
        assert proc.returncode == 143, err.decode()
        assert b"terminated by SIGTERM" in err and b"--resume" in err
    assert not out.exists()
    done = len(list(wd.glob("chunk-*.parquet")))
    assert 2 <= done < 46
    s = run(inp, out, tiny_model_path, resume=True)
    assert s.resumed_rows == done * 10
    assert out.read_bytes() == ref.read_bytes()


def test_state_file_describes_run(tmp_path, library_csv, tiny_model_path, monkeypatch):
    out = tmp_path / "out.parquet"
    interrupted_run(monkeypatch, library_csv, out, tiny_model_path, 1, batch_size=10)
    state = json.loads((work_dir_for(out) / "state.json").read_text())
    assert state["chunk_size"] == 10 and state["model_sha256"] == file_sha256(tiny_model_path)
    assert state["input"] == os.path.abspath(library_csv)


def test_package_screen_is_the_function(tmp_path, library_csv, tiny_model_path):
    import molood.screening.engine  # noqa: F401 - must not shadow molood.screen

    assert callable(molood.screen) and molood.screen is molood.screening.engine.screen
    s = molood.screen(library_csv, tmp_path / "o.parquet", model=tiny_model_path)
    assert s.rows > 0


def test_parent_process_stays_torch_free(tmp_path, library_csv, tiny_model_path):
    """With workers, only the workers load the model: the screening process imports no torch."""
    out = tmp_path / "out.parquet"
    code = ("import sys, molood; "
            f"s = molood.screen({str(library_csv)!r}, {str(out)!r}, "
            f"model={str(tiny_model_path)!r}, workers=2, batch_size=20); "
            "print(s.rows, [m for m in ('torch', 'dgl') if m in sys.modules])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert res.stdout.split(maxsplit=1)[1].strip() == "[]"
    assert int(res.stdout.split()[0]) == len(read(out))


def test_chunks_split_into_worker_tasks(tmp_path, library_csv, tiny_model_path, monkeypatch):
    ref = tmp_path / "ref.parquet"
    run(library_csv, ref, tiny_model_path)
    monkeypatch.setattr(screen_mod, "TASK_ROWS", 4)  # 25-row chunks -> 7 tasks each
    out = tmp_path / "out.parquet"
    run(library_csv, out, tiny_model_path, workers=2, batch_size=25)
    a, b = read(ref), read(out)
    pd.testing.assert_frame_equal(a, b)


def test_sdf_properties_differ_between_chunks(tmp_path, tiny_model_path):
    from rdkit import Chem

    src = tmp_path / "mixed.sdf"
    with Chem.SDWriter(str(src)) as w:
        for i, (smi, props) in enumerate([("CCO", {"a": "1"}), ("c1ccccc1", {"b": "2"}),
                                          ("CCN", {"a": "3", "c": "x"})]):
            m = Chem.MolFromSmiles(smi)
            m.SetProp("_Name", f"mol{i}")
            for k, v in props.items():
                m.SetProp(k, v)
            w.write(m)
    out = tmp_path / "out.parquet"
    run(src, out, tiny_model_path, batch_size=1)
    df = read(out)
    assert list(df.columns[:4]) == ["_Name", "a", "b", "c"]
    assert df["_Name"].tolist() == ["mol0", "mol1", "mol2"]
    assert df["a"].tolist()[0] == "1" and pd.isna(df["a"].tolist()[1])
    assert (df["molood_status"] == "ok").all()
