"""molood.screening.shard: shard planning, streaming split/extract, order-preserving atomic merge."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from molood.screening import shard, shard_summary


def _library(path, n=103, row_group_size=10):
    t = pa.table({
        "id": pa.array(np.arange(n, dtype=np.int64)),
        "smiles": pa.array([None if i % 17 == 5 else ("" if i % 23 == 7 else "C" * (1 + i % 5))
                            for i in range(n)], type=pa.string()),
        "weight": pa.array([None if i % 11 == 0 else i / 3 for i in range(n)], type=pa.float64()),
        "tag": pa.array([f"t{i % 4}" for i in range(n)]).dictionary_encode(),
    }).replace_schema_metadata({b"origin": b"unit-test"})
    pq.write_table(t, path, row_group_size=row_group_size)
    return pq.read_table(path)


def _screened(table, sha="abc", fpr="0.05", threshold="1.5", inp="x.parquet"):
    """A table shaped like `molood screen` output for `table`'s rows."""
    n = table.num_rows
    score = pa.array([None if i % 17 == 5 else float(i) for i in range(n)], type=pa.float64())
    out = table.append_column("molood_score", score)
    out = out.append_column("molood_pvalue", score)
    out = out.append_column("molood_is_ood", pa.array(
        [None if i % 17 == 5 else i % 3 == 0 for i in range(n)], type=pa.bool_()))
    out = out.append_column("molood_status", pa.array(
        ["empty" if i % 17 == 5 else "ok" for i in range(n)], type=pa.string()))
    return out.replace_schema_metadata({
        b"molood_version": b"0.1.0", b"molood_model_sha256": sha.encode(),
        b"molood_fpr": fpr.encode(), b"molood_threshold": threshold.encode(),
        b"molood_input": inp.encode()})


# ------------------------------------------------------------------ planning
@pytest.mark.parametrize("n,k,expect", [(0, 5, 1), (1, 5, 1), (5, 5, 1), (6, 5, 2), (103, 25, 5),
                                        (100, 25, 4), (10, 1, 10)])
def test_shard_count(n, k, expect):
    assert shard.shard_count(n, k) == expect
    bounds = shard.shard_bounds(n, k)
    assert len(bounds) == expect
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert all(stop - start <= k for start, stop in bounds)


@pytest.mark.parametrize("bad", [0, -1, 2.5, "10", True, None])
def test_shard_rows_validated(bad):
    with pytest.raises(ValueError):
        shard.shard_count(10, bad)


def test_shard_names_sort_numerically():
    names = [shard.shard_name(i, 123_456) for i in range(0, 123_456, 997)]
    assert names == sorted(names)
    assert shard.shard_name(3, 10) == "shard-00003"
    assert shard.shard_name(0, 0) == "shard-00000"  # an empty library still has one shard
    with pytest.raises(IndexError):
        shard.shard_name(10, 10)


def test_plan_from_footer(tmp_path):
    lib = tmp_path / "lib.parquet"
    _library(lib, n=103)
    p = shard.write_plan(lib, 25, tmp_path / "plan.json")
    assert json.loads((tmp_path / "plan.json").read_text()) == p
    assert p["rows"] == 103 and p["shards"] == [f"shard-0000{i}" for i in range(5)]
    assert p["bounds"] == [[0, 25], [25, 50], [50, 75], [75, 100], [100, 103]]


# ------------------------------------------------------------------ reading ranges
@pytest.mark.parametrize("start,stop", [(0, 103), (0, 1), (9, 11), (10, 20), (37, 103),
                                        (100, 200), (50, 50), (102, 103)])
@pytest.mark.parametrize("batch_rows", [1, 4, 64])
def test_iter_rows_exact_range(tmp_path, start, stop, batch_rows):
    lib = tmp_path / "lib.parquet"
    full = _library(lib)
    got = list(shard.iter_rows(lib, start, stop, batch_rows=batch_rows))
    assert all(b.num_rows <= batch_rows for b in got)
    t = pa.Table.from_batches(got, schema=full.schema) if got else full.slice(0, 0)
    assert t.equals(full.slice(start, max(0, min(stop, 103) - start)))


# ------------------------------------------------------------------ split / extract
@pytest.mark.parametrize("n,shard_rows,rg", [(103, 25, 10), (100, 25, 7), (60, 25, 1000),
                                              (5, 25, 2), (1, 1, 1)])
def test_split_and_extract_sizes_order_and_roundtrip(tmp_path, n, shard_rows, rg):
    lib = tmp_path / "lib.parquet"
    full = _library(lib, n=n, row_group_size=rg)
    paths = shard.split(lib, tmp_path / "shards", shard_rows, batch_rows=8)
    bounds = shard.shard_bounds(n, shard_rows)
    assert [p.name for p in paths] == [f"{shard.shard_name(i, len(bounds))}.parquet"
                                       for i in range(len(bounds))]
    for i, (p, (start, stop)) in enumerate(zip(paths, bounds)):
        t = pq.read_table(p)
        assert t.num_rows == stop - start
        assert t.schema.equals(full.schema, check_metadata=True)  # types + metadata kept
        assert t.equals(full.slice(start, stop - start))
        ex = tmp_path / f"ex{i}.parquet"
        assert shard.extract_shard(lib, i, shard_rows, ex, batch_rows=3) == stop - start
        assert pq.read_table(ex).equals(t)
    merged = tmp_path / "merged.parquet"
    res = shard.merge(paths, merged, batch_rows=6)
    assert res["rows"] == n and [s["rows"] for s in res["shards"]] == [b - a for a, b in bounds]
    back = pq.read_table(merged)
    assert back.equals(full) and back.schema.metadata == full.schema.metadata
    assert not list(tmp_path.rglob("*.part"))


def test_empty_library_gives_one_empty_shard(tmp_path):
    lib = tmp_path / "lib.parquet"
    full = _library(lib, n=0)
    paths = shard.split(lib, tmp_path / "s", 10)
    assert len(paths) == 1 and pq.read_table(paths[0]).num_rows == 0
    assert pq.read_schema(paths[0]).equals(full.schema)
    shard.merge(paths, tmp_path / "m.parquet")
    assert pq.read_table(tmp_path / "m.parquet").equals(full)


def test_extract_out_of_range(tmp_path):
    lib = tmp_path / "lib.parquet"
    _library(lib, n=50)
    with pytest.raises(IndexError):
        shard.extract_shard(lib, 2, 25, tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()


# ------------------------------------------------------------------ merge
def _screened_shards(tmp_path, n=60, shard_rows=25, **meta):
    lib = tmp_path / "lib.parquet"
    full = _screened(_library(lib, n=n))
    paths = []
    for i, (a, b) in enumerate(shard.shard_bounds(n, shard_rows)):
        p = tmp_path / f"s{i}.parquet"
        t = full.slice(a, b - a).replace_schema_metadata(
            {**full.schema.metadata, b"molood_input": f"s{i}.parquet".encode()})
        pq.write_table(t, p, row_group_size=7)
        paths.append(p)
    return full, paths


def test_merge_keeps_order_and_model_metadata(tmp_path):
    full, paths = _screened_shards(tmp_path)
    out = tmp_path / "m.parquet"
    shard.merge(paths, out, metadata={"molood_input": "lib.parquet"})
    got = pq.read_table(out)
    assert got.equals(full)
    md = got.schema.metadata
    assert md[b"molood_model_sha256"] == b"abc" and md[b"molood_threshold"] == b"1.5"
    assert md[b"molood_input"] == b"lib.parquet"
    # without an override, the per-shard input name is dropped rather than copied from shard 0
    shard.merge(paths, tmp_path / "m2.parquet")
    assert b"molood_input" not in pq.read_schema(tmp_path / "m2.parquet").metadata


def test_merge_given_order_is_output_order(tmp_path):
    full, paths = _screened_shards(tmp_path)
    out = tmp_path / "m.parquet"
    shard.merge(paths[::-1], out)
    ids = pq.read_table(out, columns=["id"]).column("id").to_pylist()
    assert ids == list(range(50, 60)) + list(range(25, 50)) + list(range(25))


@pytest.mark.parametrize("key", [b"molood_model_sha256", b"molood_threshold", b"molood_fpr",
                                 b"molood_version"])
def test_merge_refuses_shards_of_different_screens(tmp_path, key):
    full, paths = _screened_shards(tmp_path)
    t = pq.read_table(paths[1])
    pq.write_table(t.replace_schema_metadata({**t.schema.metadata, key: b"other"}), paths[1])
    out = tmp_path / "m.parquet"
    with pytest.raises(shard.ShardMismatchError, match=key.decode()):
        shard.merge(paths, out)
    assert not out.exists() and not (tmp_path / "m.parquet.part").exists()


def test_merge_refuses_different_columns(tmp_path):
    full, paths = _screened_shards(tmp_path)
    t = pq.read_table(paths[2])
    pq.write_table(t.drop_columns(["weight"]), paths[2])
    with pytest.raises(shard.ShardMismatchError, match="columns"):
        shard.merge(paths, tmp_path / "m.parquet")


def test_merge_reconciles_null_typed_column(tmp_path):
    a = pa.table({"smiles": ["C", "CC"], "note": pa.array([None, None], type=pa.null())})
    b = pa.table({"smiles": ["CCC"], "note": ["x"]})
    pq.write_table(a, tmp_path / "a.parquet")
    pq.write_table(b, tmp_path / "b.parquet")
    shard.merge([tmp_path / "a.parquet", tmp_path / "b.parquet"], tmp_path / "m.parquet")
    got = pq.read_table(tmp_path / "m.parquet")
    assert got.column("note").to_pylist() == [None, None, "x"]
    assert got.schema.field("note").type == pa.string()


def test_merge_is_atomic_on_failure(tmp_path):
    full, paths = _screened_shards(tmp_path)
    out = tmp_path / "m.parquet"
    out.write_bytes(b"previous result")
    paths[2].write_bytes(b"PAR1 truncated garbage")  # unreadable shard
    with pytest.raises((pa.ArrowInvalid, ValueError), match="m.parquet|shard|Parquet|parquet"):
        shard.merge(paths, out)
    assert out.read_bytes() == b"previous result"  # old file untouched, no partial output
    assert not (tmp_path / "m.parquet.part").exists()


def test_merge_failure_mid_stream_leaves_nothing(tmp_path, monkeypatch):
    full, paths = _screened_shards(tmp_path)
    out = tmp_path / "m.parquet"
    real = shard.iter_rows
    calls = {"n": 0}

    def flaky(path, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk went away")
        return real(path, *a, **k)

    monkeypatch.setattr(shard, "iter_rows", flaky)
    with pytest.raises(OSError, match="disk went away"):
        shard.merge(paths, out)
    assert not out.exists() and not (tmp_path / "m.parquet.part").exists()


# ------------------------------------------------------------------ summary and CLI
def test_summarize_counts_and_throughput(tmp_path):
    full, paths = _screened_shards(tmp_path)
    s = shard_summary.summarize(paths, [2.0, None, 0.5])
    status = full.column("molood_status").to_pylist()
    flags = full.column("molood_is_ood").to_pylist()
    assert s["rows"] == 60 and s["shard_count"] == 3
    assert s["scored"] == status.count("ok") and s["invalid"] == 60 - status.count("ok")
    assert s["flagged"] == sum(v is True for v in flags)
    assert [x["rows"] for x in s["shards"]] == [25, 25, 10]
    assert s["shards"][0]["rows_per_s"] == 12.5 and s["shards"][1]["rows_per_s"] is None
    assert s["status_counts"] == {"ok": status.count("ok"), "empty": status.count("empty")}
    assert s["metadata"]["molood_model_sha256"] == "abc"
