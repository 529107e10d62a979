"""molood.train: fitting and saving a detector from a library file."""

from __future__ import annotations

from pathlib import Path

import pytest

from molood.exceptions import MoloodInputError
from molood.persist import read_manifest
from molood.train import train_file

DATA = Path(__file__).resolve().parent / "data"


def test_train_file_from_sd_records(tmp_path):
    """SD records are parsed by their kind; the broken one is skipped, not fatal."""
    out = tmp_path / "m.molood"
    with pytest.warns(UserWarning):
        det = train_file(DATA / "small.sdf", out, epochs=1, val_fraction=0.0, batch_size=4,
                         verbose=False)
    assert det.n_fit_ == 3  # 4 records, one broken
    assert read_manifest(out)["training_set"]["n_fit"] == 3


def test_train_file_refuses_an_empty_library(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("smiles\n")
    with pytest.raises(MoloodInputError, match="no rows"):
        train_file(empty, tmp_path / "m.molood", epochs=1)
    assert not (tmp_path / "m.molood").exists()
