"""workflows/: the sharded Snakemake screening workflow, its SLURM profile and the examples.

Runs Snakemake in subprocesses (``python -m snakemake``) in temporary directories. Needs the
``workflow`` extra (snakemake >= 8, snakemake-executor-plugin-slurm); skipped without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from molood.screening.columns import OUTPUT_COLUMNS

pytest.importorskip("snakemake")

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflows" / "Snakefile"
PROFILE = REPO / "workflows" / "profiles" / "slurm"
EXAMPLES = REPO / "workflows" / "examples"

N_ROWS, SHARD_ROWS, BATCH = 60, 25, 5
# Runs that screen pass fpr explicitly; without it (the config's default) `molood screen` runs
# without --fpr, at the model's default fpr: see test_fpr_is_the_models_unless_configured.
FPR = "fpr=0.05"


def _env() -> dict[str, str]:
    env = dict(os.environ, DGLBACKEND="pytorch", PYTHONUNBUFFERED="1")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def snakemake(cwd: Path, *args: str, snakefile: Path = SNAKEFILE, check: bool = True,
              timeout: int = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "--nocolor", *args]
    p = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"snakemake failed ({p.returncode}): {' '.join(cmd)}\n"
                             f"--- stdout\n{p.stdout[-4000:]}\n--- stderr\n{p.stderr[-8000:]}")
    return p


def _job_counts(text: str) -> dict[str, int]:
    """The 'Job stats' table of a Snakemake run/dry-run as {rule: count}."""
    lines = text.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("Job stats"))
    out = {}
    for ln in lines[i + 3:]:
        parts = ln.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        out[parts[0]] = int(parts[1])
    return out


def write_library(path: Path, smiles: list[str | None]) -> pa.Table:
    """A Parquet library with several column types (ints, text, floats with nulls)."""
    n = len(smiles)
    t = pa.table({
        "compound_id": pa.array(np.arange(1000, 1000 + n, dtype=np.int64)),
        "smiles": pa.array(smiles, type=pa.string()),
        "activity": pa.array([None if i % 7 == 3 else i * 0.25 for i in range(n)],
                             type=pa.float64()),
        "vendor": pa.array([f"v{i % 3}" for i in range(n)], type=pa.string()),
    })
    pq.write_table(t, path, row_group_size=16)
    return t


@pytest.fixture(scope="module")
def library_smiles(freesolv_smiles) -> list[str | None]:
    """60 rows: FreeSolv molecules with an invalid SMILES, an empty cell and a null."""
    s: list[str | None] = list(freesolv_smiles[250:250 + N_ROWS])
    s[7], s[31], s[52] = "C1CC(not_smiles", "", None
    return s


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory, library_smiles, tiny_model_path):
    """The workflow on a 60-row library, shard_rows=25 (3 shards), --cores 2."""
    d = tmp_path_factory.mktemp("wf")
    lib = write_library(d / "lib.parquet", library_smiles)
    p = snakemake(d, "--cores", "2", *_run_config(tiny_model_path))
    return d, lib, p


def _run_config(model: Path) -> list[str]:
    return ["--config", "library=lib.parquet", "out=results/screened.parquet",
            f"shard_rows={SHARD_ROWS}", f"model={model}", f"batch_size={BATCH}", FPR]


# ------------------------------------------------------------------ a real run
@pytest.mark.slow
def test_merged_output_equals_single_screen(workflow_run, tiny_model_path):
    """The merged shards are exactly one `molood screen` of the whole library (same chunk
    size: see test_merged_output_matches_default_chunking for the default one)."""
    from molood.screening.engine import screen

    d, lib, _ = workflow_run
    merged = pq.read_table(d / "results" / "screened.parquet")
    screen(d / "lib.parquet", d / "single.parquet", model=tiny_model_path, batch_size=BATCH)
    single = pq.read_table(d / "single.parquet")
    # every row, same order, same values and types, same metadata (model hash, fpr, threshold,
    # version, input name): byte-for-byte the table of one `molood screen` of the library
    assert merged.num_rows == N_ROWS
    assert merged.column_names == lib.column_names + list(OUTPUT_COLUMNS)
    assert merged.equals(single)
    assert merged.schema.equals(single.schema, check_metadata=True)
    assert merged.select(lib.column_names).equals(lib)
    md = merged.schema.metadata
    assert md[b"molood_input"] == b"lib.parquet"
    assert md[b"molood_model_sha256"] == single.schema.metadata[b"molood_model_sha256"]
    status = merged.column("molood_status").to_pylist()
    assert status[31] == "empty" and status[52] == "empty"
    assert status[7].startswith("invalid_smiles")
    assert status.count("ok") == N_ROWS - 3


@pytest.mark.slow
def test_merged_output_matches_default_chunking(workflow_run, tiny_model_path):
    """With the default chunk size (10,000 > shard_rows) the file is the same, bit for bit:
    a score does not depend on which molecules were scored with it."""
    from molood.screening.engine import screen

    d, lib, _ = workflow_run
    screen(d / "lib.parquet", d / "single_default.parquet", model=tiny_model_path)
    a = pq.read_table(d / "results" / "screened.parquet")
    b = pq.read_table(d / "single_default.parquet")
    for col in a.column_names:
        assert a.column(col).equals(b.column(col)), col
    assert a.schema.metadata == b.schema.metadata


@pytest.mark.slow
def test_summary_and_cleanup(workflow_run):
    d, _, _ = workflow_run
    s = json.loads((d / "results" / "screened.summary.json").read_text())
    assert (s["rows"], s["scored"], s["invalid"], s["shard_count"]) == (N_ROWS, N_ROWS - 3, 3, 3)
    assert s["flagged"] == pq.read_table(d / "results" / "screened.parquet").column(
        "molood_is_ood").to_pylist().count(True)
    assert [x["rows"] for x in s["shards"]] == [25, 25, 10]
    assert all(x["seconds"] > 0 and x["rows_per_s"] > 0 for x in s["shards"])
    assert all(x["mol_per_s"] is not None for x in s["shards"])  # parsed from the shard logs
    assert s["status_counts"]["empty"] == 2 and s["status_counts"]["invalid_smiles"] == 1
    tsv = (d / "results" / "screened.summary.tsv").read_text().splitlines()
    assert len(tsv) == 5 and tsv[-1].startswith("total\t60\t57\t3\t")
    work = d / "results" / "screened.molood"
    assert sorted(p.name for p in (work / "logs" / "screen").iterdir()) == [
        "shard-00000.log", "shard-00001.log", "shard-00002.log"]
    assert not list((work / "input").glob("*.parquet"))  # split shards are temp()
    assert not list(d.rglob("*.part")) and not list(d.rglob("*.molood-parts"))


@pytest.mark.slow
def test_summary_names_the_library_not_a_shard(workflow_run):
    d, _, p = workflow_run
    s = json.loads((d / "results" / "screened.summary.json").read_text())
    assert s["library"] == "lib.parquet"
    assert s["metadata"]["molood_input"] == "lib.parquet"  # not shard-00000.parquet
    assert "60 rows in 3 shards" in p.stdout + p.stderr


@pytest.mark.slow
def test_rerun_has_nothing_to_do(workflow_run, tiny_model_path):
    d, _, _ = workflow_run
    p = snakemake(d, "--cores", "2", "--dry-run", *_run_config(tiny_model_path))
    assert "Nothing to be done" in p.stdout + p.stderr


# ------------------------------------------------------------------ failure and resume
FLAKY = """#!/usr/bin/env bash
# `molood`, except that `molood screen` crashes on the shard named in ./FAIL while that file
# exists (`molood shard extract` of the split jobs works)
if [ -f FAIL ] && [ "$1" = screen ] && [[ "$*" == *"$(cat FAIL)"* ]]; then
    echo "simulated crash" >&2; exit 3
fi
exec "{python}" -m molood.cli "$@"
"""


@pytest.mark.slow
def test_failed_shard_is_reported_and_rerun_resumes(tmp_path, library_smiles,
                                                    tiny_model_path):
    write_library(tmp_path / "lib.parquet", library_smiles[:30])
    flaky = tmp_path / "flaky.sh"
    flaky.write_text(FLAKY.replace("{python}", sys.executable))
    flaky.chmod(0o755)
    (tmp_path / "FAIL").write_text("shard-00001")
    args = ["--cores", "2", "--config", "library=lib.parquet", "out=o.parquet", "shard_rows=15",
            f"model={tiny_model_path}", "molood_cmd=./flaky.sh", FPR]
    p = snakemake(tmp_path, *args, "--keep-going", check=False)
    err = p.stdout + p.stderr
    assert p.returncode != 0
    log = "o.molood/logs/screen/shard-00001.log"
    assert f"screening shard-00001 failed (exit 3); log: {log}" in err
    assert f"shard-00001 (screen): {log}" in err  # the onerror summary
    assert "simulated crash" in (tmp_path / log).read_text()
    assert not (tmp_path / "o.parquet").exists()
    assert (tmp_path / "o.molood" / "screened" / "shard-00000.parquet").exists()

    (tmp_path / "FAIL").unlink()
    p = snakemake(tmp_path, *args)
    assert _job_counts(p.stdout + p.stderr) == {"screen": 1, "merge": 1, "all": 1, "total": 3}
    merged = pq.read_table(tmp_path / "o.parquet")
    assert merged.num_rows == 30
    assert merged.column("compound_id").to_pylist() == list(range(1000, 1030))


def test_config_errors_are_clear(tmp_path, library_smiles):
    p = snakemake(tmp_path, "--cores", "1", "--dry-run", check=False)
    assert p.returncode != 0 and "set `library` and `out`" in p.stdout + p.stderr
    write_library(tmp_path / "lib.parquet", library_smiles)
    p = snakemake(tmp_path, "--cores", "1", "--dry-run", "--config", "library=lib.parquet",
                  "out=o.parquet", "fpr=1.5", check=False)
    assert p.returncode != 0 and "0 < fpr < 1" in p.stdout + p.stderr
    # the output is always Parquet: "convert other formats first" is about the input only
    p = snakemake(tmp_path, "--cores", "1", "--dry-run", "--config", "library=lib.parquet",
                  "out=o.csv", check=False)
    err = p.stdout + p.stderr
    assert p.returncode != 0 and "`out` must name a Parquet file" in err and "convert" not in err
    p = snakemake(tmp_path, "--cores", "1", "--dry-run", "--config", "library=lib.csv",
                  "out=o.parquet", check=False)
    assert "convert other input formats first" in p.stdout + p.stderr


@pytest.mark.parametrize("fpr,option", [(None, None), ("", None), ("0.01", "--fpr 0.01")])
def test_fpr_is_the_models_unless_configured(tmp_path, library_smiles, fpr, option):
    """No `fpr` (or an empty one): `molood screen` without --fpr, i.e. at the model's default
    fpr; the split jobs run `molood shard extract` through the same molood command."""
    write_library(tmp_path / "lib.parquet", library_smiles)
    extra = [] if fpr is None else [f"fpr={fpr}"]
    p = snakemake(tmp_path, "--cores", "2", "--dry-run", "--printshellcmds", "--config",
                  "library=lib.parquet", "out=o.parquet", "shard_rows=25",
                  "molood_cmd=my-molood", *extra)
    out = p.stdout + p.stderr
    screens = [ln for ln in out.splitlines() if "my-molood screen" in ln]
    splits = [ln for ln in out.splitlines() if "my-molood shard extract" in ln]
    assert len(screens) == 6 and len(splits) == 3  # screen: --resume, then a fresh start
    assert "molood.screening.shard" not in out
    for ln in screens:
        assert ("--fpr" not in ln) if option is None else (option in ln)


# ------------------------------------------------------------------ cluster profile
def test_slurm_profile_dry_run(tmp_path, library_smiles):
    write_library(tmp_path / "lib.parquet", library_smiles)
    p = snakemake(tmp_path, "--profile", str(PROFILE), "--dry-run", "--cores", "64",
                  "--config", "library=lib.parquet", "out=o.parquet", "shard_rows=25",
                  "workers_per_shard=2")
    out = p.stdout + p.stderr
    assert _job_counts(out) == {"split": 3, "screen": 3, "merge": 1, "all": 1, "total": 8}
    assert "slurm_partition=cpu" in out
    # the profile's set-threads / set-resources win over the config for `screen`
    assert "--workers 4" in out and "mem_mb=8000" in out and "runtime=240" in out
    assert out.count("shard extract lib.parquet --index") == 3 and "--fpr" not in out
    import yaml

    prof = yaml.safe_load((PROFILE / "config.yaml").read_text())
    assert prof["executor"] == "slurm"
    assert {"slurm_partition", "runtime", "mem_mb"} <= set(prof["default-resources"])


# ------------------------------------------------------------------ examples
@pytest.mark.slow
def test_module_example_runs(tmp_path, tiny_model_path):
    """Upstream rule -> molood module (checkpoint: the library does not exist at parse time)
    -> downstream rule."""
    snakefile = EXAMPLES / "module" / "Snakefile"
    cfg = ["--config", f"model={tiny_model_path}", "n_rows=12", "shard_rows=12", FPR]
    p = snakemake(tmp_path, "--cores", "2", "--dry-run", *cfg, snakefile=snakefile)
    assert _job_counts(p.stdout + p.stderr)["molood_plan"] == 1
    snakemake(tmp_path, "--cores", "2", *cfg, snakefile=snakefile)
    out = tmp_path / "molood-example"
    top = (out / "most_ood.csv").read_text().splitlines()
    assert top[0].split(",")[-len(OUTPUT_COLUMNS):] == list(OUTPUT_COLUMNS)
    assert len(top) == 13
    s = json.loads((out / "screened.summary.json").read_text())
    assert s["rows"] == 12 and s["shard_count"] == 1


@pytest.mark.slow
def test_shell_example_runs(tmp_path, library_smiles, tiny_model_path):
    write_library(tmp_path / "lib.parquet", library_smiles[:8])
    snakefile = EXAMPLES / "shell" / "Snakefile"
    snakemake(tmp_path, "--cores", "2", "--config", "library=lib.parquet",
              f"model={tiny_model_path}", FPR, snakefile=snakefile)
    t = pq.read_table(tmp_path / "molood-shell-example" / "screened.parquet")
    assert t.num_rows == 8 and t.column_names[-1] == OUTPUT_COLUMNS[-1]
    # without config: the bundled demo library and the default model
    p = snakemake(tmp_path, "--cores", "2", "--dry-run", "--printshellcmds",
                  "--config", "outdir=defaults", snakefile=snakefile)
    out = p.stdout + p.stderr
    assert _job_counts(out) == {"molood_screen": 1, "all": 1, "total": 2}
    assert "chembl_approved_drugs.parquet -o defaults/screened.parquet" in out
    assert "--model" not in out and "--fpr" not in out
