"""Model files: round trip, manifest, hostile files refused, version drift warns."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

os.environ.setdefault("DGLBACKEND", "pytorch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

import molood  # noqa: E402
from molood.chem.standardize import Standardizer
from molood.detectors.sego.detector import SEGODetector  # noqa: E402
from molood.persist import (  # noqa: E402
    FORMAT_VERSION,
    MoloodModelError,
    MoloodVersionWarning,
    default_model_path,
    load_model,
    load_scoring_model,
    read_manifest,
    sego_model_path,
)

ID = ["CCO", "CCCO", "CCN", "CCCN", "CCOC", "CC(C)O", "CCCCO", "CC(C)N", "COC", "CCCC", "CC(C)C",
      "CCC(C)O", "NCCO", "OCCO", "CCOCC", "CCNCC", "CC(O)CO", "CCCCC", "CCC(N)C", "COCCO"]
QUERY = ["CCO", "c1ccccc1", "CC(=O)O", "C", "[Na+].[Cl-]", "CCCCCCCCN", "not_a_smiles"]


@pytest.fixture(scope="module")
def det() -> SEGODetector:
    return SEGODetector(epochs=3, hidden_dim=8, batch_size=8, val_fraction=0.2,
                        verbose=False).fit(ID)


@pytest.fixture(scope="module")
def model_file(det, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("m") / "toy.molood"
    det.save(path)
    return path


def test_round_trip_identical_scores(det, model_file):
    loaded = SEGODetector.load(model_file)
    np.testing.assert_array_equal(loaded.score(QUERY), det.score(QUERY))
    np.testing.assert_array_equal(loaded.pvalue(QUERY), det.pvalue(QUERY))
    assert loaded.predict(QUERY, fpr=0.3).equals(det.predict(QUERY, fpr=0.3))
    assert loaded.model_params() == det.model_params()
    assert loaded.threshold_ == det.threshold_
    assert loaded.history_ == [{k: v for k, v in r.items() if k != "time_s"} for r in det.history_]
    again = molood.load_model(model_file)
    np.testing.assert_array_equal(again.score(QUERY), det.score(QUERY))


def test_scoring_only_load_scores_like_the_full_model(det, model_file):
    """What screening workers load: the same scores and calibration, without the training net."""
    scorer = load_scoring_model(model_file)
    assert scorer.net_ is None
    np.testing.assert_array_equal(scorer.score(QUERY), det.score(QUERY))
    np.testing.assert_array_equal(scorer.pvalue(QUERY), det.pvalue(QUERY))
    assert scorer.threshold(0.05) == det.threshold(0.05)


def test_manifest_contents(det, model_file):
    m = read_manifest(model_file)
    assert m["format"] == "molood-model" and m["format_version"] == FORMAT_VERSION == 2
    assert m["detector"] == "sego"
    assert set(m["versions"]) >= {"molood", "torch", "dgl", "rdkit"}
    assert m["params"]["epochs"] == 3 and m["mode"] == "default" and m["seed"] == 0
    assert m["featurizer"]["leaf_dim"] == 20
    # the default standardisation (its fragment step is the featurizer's largest_fragment)
    assert m["featurizer"]["standardize"] == Standardizer().to_dict()
    assert m["featurizer"]["largest_fragment"] is True
    assert m["training_set"]["n_fit"] == len(ID) and len(m["training_set"]["graphs_sha256"]) == 64
    assert m["training_set"]["smiles_sha256"] == det.train_smiles_sha256_
    assert m["calibration"]["n_cal"] == 4 and m["calibration"]["fpr"] == 0.05
    assert set(m["calibration"]["stats"]) == {"mu_g", "sd_g", "mu_n", "sd_n"}
    assert m["bank"]["size"] == det.bank_f_.shape[0] and len(m["history"]) == 3
    # tensors only, nothing but the known keys
    keys = set(load_file(str(model_file)))
    assert {"bank.g_f", "bank.g_s", "calibration.scores"} <= keys
    assert all(k.startswith(("net.", "bank.", "calibration.", "reference.")) for k in keys)


def test_training_hash_is_order_independent_for_smiles():
    kw = dict(epochs=1, hidden_dim=8, batch_size=8, verbose=False)
    a = SEGODetector(**kw).fit(ID)
    b = SEGODetector(**kw).fit(ID[::-1])
    assert a.train_smiles_sha256_ == b.train_smiles_sha256_
    assert a.train_sha256_ != b.train_sha256_  # graph bytes follow input order


class _Boom:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ["MOLOOD_TEST_MARKER"]),))


def _hostile_files(tmp_path: Path, model_file: Path) -> dict[str, Path]:
    files = {}
    p = tmp_path / "torch_save.molood"
    torch.save({"net.x": torch.zeros(2), "boom": _Boom()}, p)
    files["torch.save"] = p
    p = tmp_path / "raw_pickle.molood"
    p.write_bytes(pickle.dumps(_Boom()))
    files["pickle"] = p
    p = tmp_path / "garbage.molood"
    p.write_bytes(np.random.RandomState(0).bytes(4096))
    files["garbage"] = p
    p = tmp_path / "empty.molood"
    p.write_bytes(b"")
    files["empty"] = p
    raw = model_file.read_bytes()
    for frac in (0.5, 0.999):
        p = tmp_path / f"trunc{frac}.molood"
        p.write_bytes(raw[:int(len(raw) * frac)])
        files[f"truncated {frac}"] = p
    p = tmp_path / "padded.molood"
    p.write_bytes(raw + b"\0" * 16)
    files["trailing bytes"] = p
    p = tmp_path / "head.molood"
    p.write_bytes(raw[:5])
    files["5 bytes"] = p
    p = tmp_path / "zip.molood"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "hello")
    p.write_bytes(buf.getvalue())
    files["zip"] = p
    p = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(p), metadata={"format": "pt"})
    files["foreign safetensors"] = p
    p = tmp_path / "json.molood"
    p.write_text(json.dumps({"format": "molood-model"}))
    files["json"] = p
    return files


def test_hostile_files_refused_without_executing(tmp_path, model_file, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("MOLOOD_TEST_MARKER", str(marker))
    for name, path in _hostile_files(tmp_path, model_file).items():
        with pytest.raises(MoloodModelError) as info:
            load_model(path)
        assert str(path) in str(info.value), name
        assert isinstance(info.value, ValueError)
    assert not marker.exists()
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.molood")


def test_manifest_readers_refuse_what_loading_refuses(tmp_path, model_file, monkeypatch):
    """`molood info` reads only the manifest; it must refuse a truncated file as `screen` does."""
    monkeypatch.setenv("MOLOOD_TEST_MARKER", str(tmp_path / "pwned"))
    for name, path in _hostile_files(tmp_path, model_file).items():
        with pytest.raises(MoloodModelError):
            read_manifest(path)
    with pytest.raises(MoloodModelError, match="truncated"):
        read_manifest(tmp_path / "trunc0.5.molood")


def test_tampered_tensors_refused(tmp_path, model_file):
    tensors = load_file(str(model_file))
    meta = {"molood": json.dumps(read_manifest(model_file))}
    del tensors["bank.g_s"]
    p = tmp_path / "nobank.molood"
    save_file(tensors, str(p), metadata=meta)
    with pytest.raises(MoloodModelError, match="incomplete"):
        load_model(p)


def test_version_drift_warns(tmp_path, model_file):
    m = read_manifest(model_file)
    m["versions"]["molood"] = "0.0.1"
    m["versions"]["torch"] = "1.8.0"
    p = tmp_path / "old.molood"
    save_file(load_file(str(model_file)), str(p), metadata={"molood": json.dumps(m)})
    with pytest.warns(MoloodVersionWarning, match="molood 0.0.1.*torch 1.8.0"):
        old = load_model(p)
    assert np.isfinite(old.score(["CCO"])).all()
    m["format_version"] = FORMAT_VERSION + 1
    save_file(load_file(str(model_file)), str(p), metadata={"molood": json.dumps(m)})
    with pytest.raises(MoloodModelError, match="format version"):
        load_model(p)


def test_header_length_starting_with_pickle_opcode_loads(tmp_path, det, model_file):
    """A valid file whose 8-byte header length begins with 0x80 (pickle's PROTO byte) loads."""
    tensors = load_file(str(model_file))
    m = read_manifest(model_file)
    p = tmp_path / "x80.molood"
    for pad in range(0, 400):
        m["note"] = "x" * pad
        save_file(tensors, str(p), metadata={"molood": json.dumps(m)})
        if p.read_bytes()[:1] == b"\x80":
            break
    else:  # pragma: no cover - safetensors pads headers to 8 bytes, so 32 tries suffice
        pytest.fail("could not produce a header length whose first byte is 0x80")
    np.testing.assert_array_equal(load_model(p).score(QUERY), det.score(QUERY))


def test_default_model_path():
    p = default_model_path()
    assert p.name == "default.molood" and p.parent.name == "models"
    assert p.parent.parent == Path(molood.__file__).resolve().parent
    if not p.exists():
        with pytest.raises(FileNotFoundError, match="molood train"):
            load_model()
    else:
        from molood.detectors.hybrid.detector import HybridDetector

        assert isinstance(load_model(), HybridDetector)
        assert isinstance(load_model(sego_model_path()), SEGODetector)


# ------------------------------------------------------------------ formats and the registry
FORMAT1 = Path(__file__).resolve().parent / "data" / "format1_tiny.molood"


def test_format1_file_still_loads_with_the_scores_it_was_written_with():
    """A model file written by molood before the registry (format 1, detector named by class)
    loads and scores bit for bit as the code that wrote it did (tests/data/format1_tiny_*)."""
    ref = json.loads(FORMAT1.with_name("format1_tiny_scores.json").read_text())
    m = read_manifest(FORMAT1)
    assert m["format_version"] == 1 and m["detector"] == "SEGODetector"
    for loader in (load_model, load_scoring_model):
        det = loader(FORMAT1)
        assert isinstance(det, SEGODetector)
        got = det.score(ref["smiles"])
        want = np.array([np.nan if v is None else v for v in ref["scores"]])
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(det.pvalue(ref["smiles"]),
                                      [np.nan if v is None else v for v in ref["pvalues"]])
        assert det.threshold() == ref["threshold"]


def test_resaving_a_format1_file_keeps_every_tensor(tmp_path):
    from safetensors.numpy import load_file as np_load

    out = tmp_path / "v2.molood"
    load_model(FORMAT1).save(out)
    old, new = np_load(str(FORMAT1)), np_load(str(out))
    assert old.keys() == new.keys()
    for k in old:
        assert old[k].dtype == new[k].dtype
        np.testing.assert_array_equal(old[k], new[k])
    assert read_manifest(out)["detector"] == "sego"


def test_a_new_detector_is_saved_and_loaded_without_touching_persist(toy_detector_cls, tmp_path):
    rng = np.random.RandomState(1)
    det = toy_detector_cls(fpr=0.2).fit(rng.normal(size=(40, 4)))
    path = tmp_path / "toy.molood"
    det.save(path)
    assert read_manifest(path)["detector"] == "toy-mean"
    loaded = load_model(path)
    assert type(loaded) is toy_detector_cls and loaded.fpr_ == 0.2
    q = rng.normal(size=(6, 4))
    np.testing.assert_array_equal(loaded.score(q), det.score(q))
    np.testing.assert_array_equal(loaded.cal_scores_, det.cal_scores_)
    with pytest.raises(TypeError, match="holds a ToyMeanDetector"):
        SEGODetector.load(path)


def test_unknown_detector_name_is_a_model_error(tmp_path, model_file):
    from safetensors.numpy import load_file as np_load
    from safetensors.numpy import save_file as np_save

    m = read_manifest(model_file)
    m["detector"] = "no-such-detector"
    bad = tmp_path / "bad.molood"
    np_save(np_load(str(model_file)), str(bad), metadata={"molood": json.dumps(m)})
    with pytest.raises(MoloodModelError, match="unknown detector 'no-such-detector'"):
        load_model(bad)


def test_reading_a_model_file_imports_no_torch(model_file):
    import subprocess
    import sys

    code = ("import sys; from molood.persist import read_manifest; "
            f"read_manifest({str(model_file)!r}); "
            "from molood.detectors.registry import available_detectors; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_same_data_seed_and_versions_give_a_byte_identical_model_file(tmp_path):
    """The model file's SHA-256 is its identity (output metadata, --resume, the workflow's merge
    check): retraining must reproduce it, whatever the progress bar or worker settings."""
    import hashlib

    paths = []
    for i, runtime in enumerate([dict(verbose=False, n_jobs=1), dict(verbose=True, n_jobs=2)]):
        det = SEGODetector(epochs=2, hidden_dim=8, batch_size=8, val_fraction=0.2, seed=4,
                           **runtime).fit(ID)
        paths.append(tmp_path / f"m{i}.molood")
        det.save(paths[-1])
    a, b = (hashlib.sha256(p.read_bytes()).hexdigest() for p in paths)
    assert a == b
    m = read_manifest(paths[0])
    assert "training_time_s" not in m and all("time_s" not in r for r in m["history"])
    assert "verbose" not in m["params"] and "n_jobs" not in m["params"]


def test_model_file_is_readable_like_any_new_file(tmp_path, det):
    import stat

    old = os.umask(0o022)
    try:
        det.save(tmp_path / "m.molood")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.molood").stat().st_mode) == 0o644
    assert not list(tmp_path.glob("*.part"))


def test_large_tensors_are_read_only_views_of_the_mapped_file(tmp_path, monkeypatch,
                                                              freesolv_smiles):
    """Big tensors (a HNSW graph, reference SMILES) are not copied per process: they are views
    of the memory-mapped file; small ones are writable copies. Same values as safetensors
    decodes, and a model file replaced while loaded (as atomic writes do) keeps scoring."""
    from safetensors.numpy import load as st_load

    from molood.detectors.hybrid.detector import HybridDetector
    from molood.persist import read_model_file, read_tensors

    smiles = freesolv_smiles[:300]
    det = HybridDetector(seed=0, verbose=False, neighbors_index="hnsw").fit(smiles)
    path = tmp_path / "h.molood"
    det.save(path)
    monkeypatch.setattr("molood.persist.VIEW_BYTES", 4096)
    raw, _ = read_model_file(path)
    tensors = read_tensors(raw)
    expected = st_load(bytes(raw))
    assert tensors.keys() == expected.keys()
    for name, arr in tensors.items():
        assert arr.dtype == expected[name].dtype and np.array_equal(arr, expected[name])
        assert arr.flags.writeable == (arr.nbytes < 4096), name
    big = tensors["hybrid.neighbors.hnsw"]
    assert not big.flags.owndata and big.nbytes > 4096
    back = load_model(path)
    before = back.score_samples(smiles[:10] + ["c1ccc2ccccc2c1"])
    other = tmp_path / "other.molood"
    HybridDetector(seed=1, verbose=False).fit(smiles[:50]).save(other)
    os.replace(other, path)  # what a new `molood train -o` does to the old file
    np.testing.assert_array_equal(back.score_samples(smiles[:10] + ["c1ccc2ccccc2c1"]), before)
