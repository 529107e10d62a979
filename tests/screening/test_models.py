"""molood.screening.models: the model cache and the torch-free parent side of a screen."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from safetensors.numpy import load_file, save_file

from molood._fs import file_sha256
from molood.persist import MoloodVersionWarning, read_manifest
from molood.screening.models import get_model, model_info


def test_get_model_caches_by_file_state(tmp_path, tiny_model_path):
    copy = tmp_path / "m.molood"
    copy.write_bytes(tiny_model_path.read_bytes())
    det = get_model(copy)
    assert get_model(str(copy)) is det
    st = copy.stat()
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # "rewritten": reloaded
    assert get_model(copy) is not det
    assert get_model(det) is det  # an in-memory detector is used as is


def test_parent_side_does_not_import_torch(tiny_model_path, tmp_path):
    """What a screen's parent process does with a model file leaves torch and DGL unimported
    (workers load the detector)."""
    code = ("import sys, molood.screening.engine; from molood.screening.models import model_info; "
            f"info = model_info({str(tiny_model_path)!r}, {str(tmp_path)!r}, "
            "check_versions=True); "
            "print(info.sha256, info.threshold(0.05) > -1e300, "
            "[m for m in ('torch', 'dgl') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == [file_sha256(tiny_model_path), "True", "[]"]


def test_parent_side_warns_about_version_drift(tiny_model_path, tmp_path):
    """The screen's parent checks a model file's versions the way load_model does."""
    m = read_manifest(tiny_model_path)
    m["versions"]["dgl"] = "0.9.0"
    old = tmp_path / "old.molood"
    save_file(load_file(str(tiny_model_path)), str(old), metadata={"molood": json.dumps(m)})
    with pytest.warns(MoloodVersionWarning, match="dgl 0.9.0"):
        model_info(old, str(tmp_path), check_versions=True)


def test_model_info_carries_the_models_fpr(fpr02_model, fpr02_model_path, tmp_path):
    from_file = model_info(fpr02_model_path, str(tmp_path))
    in_memory = model_info(fpr02_model, str(tmp_path))
    assert from_file.fpr == in_memory.fpr == 0.2
    assert from_file.threshold(0.2) == fpr02_model.threshold()
    assert in_memory.detector is fpr02_model and from_file.detector is None


def test_hybrid_models_are_screened_without_torch(tmp_path):
    """Workers for a torch-free model (the bundled hybrid one) neither preload nor import
    torch; a SEGO model's do."""
    from molood._parallel import MOLECULE_SCORER_PRELOAD, SCORER_PRELOAD
    from molood.persist import default_model_path, peek_manifest, sego_model_path
    from molood.screening.models import scorer_preload

    assert scorer_preload(None) == MOLECULE_SCORER_PRELOAD
    assert scorer_preload(sego_model_path()) == SCORER_PRELOAD
    assert peek_manifest(default_model_path())["detector"] == "hybrid"
    junk = tmp_path / "junk.molood"
    junk.write_bytes(b"\xff" * 64)
    assert peek_manifest(junk) is None and scorer_preload(junk) == SCORER_PRELOAD
    code = ("import sys; from molood.screening.worker import init_scorer, score_job; "
            "from molood.persist import default_model_path; "
            "init_scorer(str(default_model_path()), in_worker=True); "
            "rows = score_job(['CCO', 'c1ccccc1', 'nonsense'], 'smiles'); "
            "print(len(rows.scores), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["3", "False"]
