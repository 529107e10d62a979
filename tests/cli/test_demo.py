"""molood demo (`make demo`): its manual, its bundled library, and a small run."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq

from molood.cli.demo import LIBRARY


def test_help(molood):
    r = molood("demo", "--help")
    assert r.exit_code == 0
    for option in ("--input", "--output", "--model", "--workers", "--top", "Example",
                   "make demo", "out/demo_screen.parquet"):
        assert option in r.output, option


def test_default_library_is_the_bundled_one():
    assert LIBRARY.is_file() and LIBRARY.parent.name == "data"


def test_small_run(molood, tmp_path, tiny_model_path):
    small = tmp_path / "drugs.parquet"
    pq.write_table(pq.read_table(LIBRARY).slice(0, 25), small)
    out = tmp_path / "new" / "screened.parquet"
    r = molood("demo", "--input", small, "--output", out, "--model", tiny_model_path,
               "--top", 3)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].endswith(f"demo: screened {small}")
    assert lines[1].startswith(f"  model   {tiny_model_path}")
    assert "25 rows: 25 scored" in lines[2] and lines[3].startswith("  threshold at fpr ")
    assert lines[5] == "3 most out-of-distribution molecules (higher score = more OOD):"
    assert len(lines) == 10 and lines[6].split() == ["rank", "name", "smiles", "score",
                                                       "p-value"]
    top = pd.read_parquet(out).nlargest(3, "molood_score")
    for rank, (line, score) in enumerate(zip(lines[7:], top["molood_score"]), 1):
        assert line.split()[0] == str(rank) and line.split()[-2] == f"{score:.2f}"
