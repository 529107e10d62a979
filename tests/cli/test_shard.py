"""molood shard count|extract|split and molood merge: the same files and numbers as the
library functions of molood.screening.shard, and one-line errors."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from molood.screening import shard as lib
from molood.screening import shard_summary

N = 60


@pytest.fixture()
def library(tmp_path):
    """A 60-row Parquet library, already shaped like `molood screen` output (so that its
    shards can be merged), with row groups of 16 rows."""
    ok = [i % 9 != 4 for i in range(N)]
    t = pa.table({
        "id": pa.array(range(N), type=pa.int64()),
        "smiles": pa.array(["C" * (1 + i % 4) if ok[i] else "" for i in range(N)]),
        "molood_score": pa.array([float(i) if ok[i] else None for i in range(N)]),
        "molood_is_ood": pa.array([i % 3 == 0 if ok[i] else None for i in range(N)]),
        "molood_status": pa.array(["ok" if ok[i] else "empty" for i in range(N)]),
    }).replace_schema_metadata({b"molood_model_sha256": b"abc", b"molood_fpr": b"0.05",
                                b"molood_input": b"lib.parquet"})
    path = tmp_path / "lib.parquet"
    pq.write_table(t, path, row_group_size=16)
    return path


def _same_file(a, b):
    ta, tb = pq.read_table(a), pq.read_table(b)
    assert ta.equals(tb) and ta.schema.equals(tb.schema, check_metadata=True)


@pytest.mark.parametrize("args,expect", [([], {"rows": N}),
                                         (["--shard-rows", 25], {"rows": N, "shards": 3})])
def test_count(molood, library, args, expect):
    r = molood("shard", "count", library, *args)
    assert r.exit_code == 0 and r.stderr == ""
    assert json.loads(r.stdout) == expect
    assert expect["rows"] == lib.count_rows(library)


def test_extract_equals_library_function(molood, library, tmp_path, listdir):
    for i in range(3):
        out = tmp_path / "cli" / f"{i}.parquet"
        r = molood("shard", "extract", library, "--index", i, "--shard-rows", 25, "-o", out)
        assert r.exit_code == 0, r.output
        rows = lib.extract_shard(library, i, 25, tmp_path / f"ref{i}.parquet")
        assert r.stderr.startswith(f"shard {i}: {rows} rows -> {out} (")
        _same_file(out, tmp_path / f"ref{i}.parquet")
    assert listdir(tmp_path / "cli") == ["0.parquet", "1.parquet", "2.parquet"]


def test_split_equals_library_function(molood, library, tmp_path):
    r = molood("shard", "split", library, "--shard-rows", 25, "-o", tmp_path / "cli")
    assert r.exit_code == 0, r.output
    assert r.stderr == f"3 shards -> {tmp_path / 'cli'}\n"
    r = molood("shard", "split", library, "--shard-rows", 100, "-o", tmp_path / "one")
    assert r.stderr == f"1 shard -> {tmp_path / 'one'}\n"
    r = molood("shard", "split", library, "--shard-rows", 100, "-o", tmp_path / "q", "-q")
    assert r.exit_code == 0 and r.stderr == "" and (tmp_path / "q").is_dir()
    ref = lib.split(library, tmp_path / "ref", 25)
    assert [p.name for p in ref] == sorted(p.name for p in (tmp_path / "cli").iterdir())
    for p in ref:
        _same_file(tmp_path / "cli" / p.name, p)


def test_merge_with_summary_equals_library_functions(molood, library, tmp_path):
    parts = lib.split(library, tmp_path / "parts", 25)
    benches = []
    for i in range(3):
        b = tmp_path / f"b{i}.tsv"
        b.write_text("s\th:m:s\tmax_rss\n1.25\t0:00:01\t100\n")
        benches += ["--benchmark", b]
    out, js, tsv = tmp_path / "m.parquet", tmp_path / "sum.json", tmp_path / "sum.tsv"
    r = molood("merge", *parts, "-o", out, "--summary", js, "--summary-tsv", tsv, *benches,
               "--set-metadata", "molood_input=lib.parquet")
    assert r.exit_code == 0, r.output
    assert r.stderr.startswith(f"merged 3 shards, {N} rows -> {out} (")
    _same_file(out, library)  # split + merge gives the library back, metadata included

    lib.merge(parts, tmp_path / "ref.parquet", metadata={"molood_input": "lib.parquet"})
    _same_file(out, tmp_path / "ref.parquet")
    ref = shard_summary.summarize(parts, [1.25] * 3)
    assert json.loads(js.read_text()) == json.loads(json.dumps(ref))
    assert ref["shards"][2]["rows_per_s"] == 8.0
    lines = tsv.read_text().splitlines()
    assert lines[0].startswith("shard\trows\tscored") and lines[-1].startswith(f"total\t{N}\t")
    assert len(lines) == 5
    assert not list(tmp_path.rglob("*.part"))


def test_merge_logs_give_mol_per_s(molood, library, tmp_path):
    parts = lib.split(library, tmp_path / "parts", 30)
    logs = []
    for i in range(2):
        log = tmp_path / f"{i}.log"
        log.write_text("molood: 30 rows: 30 scored, 0 invalid, 3 flagged OOD at fpr 0.05 in "
                       "2.0 s (15 mol/s) -> x.parquet\n")
        logs += ["--log", log]
    r = molood("merge", *parts, "-o", tmp_path / "m.parquet", "--summary",
               tmp_path / "s.json", *logs)
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "s.json").read_text())
    assert [x["mol_per_s"] for x in s["shards"]] == [15.0, 15.0]


@pytest.mark.parametrize("case", ["extract_out_of_range", "missing_library", "shard_rows_0",
                                  "benchmarks_per_shard", "logs_per_shard", "bad_metadata",
                                  "mismatched_shards", "no_shards"])
def test_errors(molood, library, tmp_path, case):
    parts = [str(p) for p in lib.split(library, tmp_path / "parts", 25)]
    out = tmp_path / "out.parquet"
    args, expect, status = {
        "extract_out_of_range": (["shard", "extract", library, "--index", 3,
                                  "--shard-rows", 25, "-o", out], "shard 3 out of range", 1),
        "missing_library": (["shard", "count", tmp_path / "nope.parquet"], "nope.parquet", 1),
        "shard_rows_0": (["shard", "split", library, "--shard-rows", 0, "-o", tmp_path],
                         "--shard-rows", 2),
        "benchmarks_per_shard": (["merge", *parts, "-o", out, "--benchmark", parts[0]],
                                 "1 benchmark files for 3 shards", 2),
        "logs_per_shard": (["merge", *parts, "-o", out, "--log", "a", "--log", "b"],
                           "2 log files for 3 shards", 2),
        "bad_metadata": (["merge", *parts, "-o", out, "--set-metadata", "novalue"],
                         "--set-metadata wants KEY=VALUE, got 'novalue'", 2),
        "mismatched_shards": (["merge", *parts, "-o", out], "shards disagree on metadata", 1),
        "no_shards": (["merge", "-o", out], "Missing argument 'SHARDS...'", 2),
    }[case]
    if case == "mismatched_shards":
        t = pq.read_table(parts[1])
        pq.write_table(t.replace_schema_metadata({**t.schema.metadata,
                                                  b"molood_model_sha256": b"other"}), parts[1])
    r = molood(*args)
    assert r.exit_code == status, r.output
    assert expect in r.output and "Traceback" not in r.output
    assert len([ln for ln in r.output.splitlines() if ln.startswith("Error: ")]) == 1
    assert not out.exists() and not list(tmp_path.rglob("*.part"))


@pytest.mark.parametrize("cmd", ["count", "extract", "split", "merge"])
def test_corrupt_parquet_is_one_error_line(molood, library, tmp_path, cmd):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1" + b"\0" * 50)
    out = tmp_path / "o"
    args = {"count": ["shard", "count", bad],
            "extract": ["shard", "extract", bad, "--index", 0, "--shard-rows", 5, "-o", out],
            "split": ["shard", "split", bad, "--shard-rows", 5, "-o", out],
            "merge": ["merge", library, bad, "-o", out]}[cmd]
    r = molood(*args)
    assert r.exit_code == 1 and "Traceback" not in r.output
    errors = [ln for ln in r.output.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == 1 and errors[0].startswith(
        f"Error: {bad}: cannot read: not a readable Parquet file: it is corrupt or truncated")
    assert not out.exists()
