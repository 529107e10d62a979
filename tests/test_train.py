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
        det = train_file(DATA / "small.sdf", out, detector="sego", epochs=1, val_fraction=0.0,
                         batch_size=4, verbose=False)
    assert det.n_fit_ == 3  # 4 records, one broken
    ts = read_manifest(out)["training_set"]
    assert ts["n_fit"] == 3
    assert ts["source"] == {"file": "small.sdf", "smiles_col": None, "rows": 4, "skipped": 1}


def test_train_file_refuses_an_empty_library(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("smiles\n")
    with pytest.raises(MoloodInputError, match="no rows"):
        train_file(empty, tmp_path / "m.molood", epochs=1)
    assert not (tmp_path / "m.molood").exists()


def test_train_file_records_its_source_and_stays_byte_reproducible(tmp_path, freesolv_smiles):
    """File name (no directory), SMILES column and skipped rows go into the manifest; the same
    file trained in two places gives the same bytes (no paths, no times)."""
    import hashlib

    import pandas as pd

    paths = []
    for where in ("a", "b/c"):
        d = tmp_path / where
        d.mkdir(parents=True)
        pd.DataFrame({"id": range(41), "Canonical_SMILES": freesolv_smiles[:40] + ["xx"]}).to_csv(
            d / "actives.csv", index=False)
        paths.append(d / "m.molood")
        with pytest.warns(UserWarning, match="skipping 1"):
            train_file(d / "actives.csv", paths[-1], detector="sego", epochs=1, hidden_dim=8,
                       batch_size=8, val_fraction=0.2, verbose=False)
    a, b = (hashlib.sha256(p.read_bytes()).hexdigest() for p in paths)
    assert a == b
    src = read_manifest(paths[0])["training_set"]["source"]
    assert src == {"file": "actives.csv", "smiles_col": "Canonical_SMILES", "rows": 41,
                   "skipped": 1}
    from molood.persist import load_model

    assert load_model(paths[0]).training_source_ == src


def test_train_file_fits_the_hybrid_detector_by_default(tmp_path, freesolv_smiles):
    import pandas as pd

    lib = tmp_path / "lib.csv"
    pd.DataFrame({"smiles": freesolv_smiles[:50], "name": [f"n{i}" for i in range(50)]}
                 ).to_csv(lib, index=False)
    det = train_file(lib, tmp_path / "m.molood", verbose=False)
    assert det.registry_name == "hybrid" and det.n_cal_ == 50
    ev = det.score_evidence([freesolv_smiles[3]])
    assert ev["nearest_id"] == ["n3"] and ev["nearest_similarity"] == [1.0]
    assert read_manifest(tmp_path / "m.molood")["detector"] == "hybrid"


def test_train_file_is_part_of_the_public_api():
    import molood
    from molood.train import train_file

    assert molood.train_file is train_file and "train_file" in molood.__all__
