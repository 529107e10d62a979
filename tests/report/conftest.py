"""Fixtures of the report tests.

``screened``
    The shared ``library_csv`` (~58 rows, some invalid) screened with the tiny model, as
    ``{"parquet": path, "csv": path, "sdf": path}`` (the SD file is ``tests/data/small.sdf``
    screened); session-scoped, screened once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TEST_DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="session")
def screened(tmp_path_factory, library_csv, tiny_model_path) -> dict[str, Path]:
    from molood.screening.engine import screen

    d = tmp_path_factory.mktemp("screened")
    out = {}
    for fmt, src in (("parquet", library_csv), ("csv", library_csv),
                     ("sdf", TEST_DATA / "small.sdf")):
        out[fmt] = d / f"screened.{fmt}"
        screen(src, out[fmt], model=tiny_model_path, progress=False)
    return out
