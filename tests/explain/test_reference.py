"""molood.chem.fingerprints and molood.chem.reference: Tanimoto as RDKit computes it, the
reference set's round trip through model files and sidecars, and its look-ups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem, DataStructs

from molood.chem.fingerprints import (
    FP_BYTES,
    atom_environments,
    morgan_bitvects,
    packed_fingerprints,
    tanimoto,
)
from molood.chem.reference import ReferenceSet
from molood.exceptions import MoloodModelError
from molood.explain.reference import (
    read_sidecar,
    reference_from_file,
    reference_from_smiles,
    resolve_reference,
    sidecar_path,
    write_sidecar,
)
from molood.persist import default_model_path, load_model, load_scoring_model, read_manifest

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "O=[Se](O)O", "C", "[Na+].[Cl-]",
          "CCCCCCCCCC", "c1ccc2ccccc2c1", "[H][H]"]


def test_tanimoto_is_rdkits(freesolv_smiles):
    mols = [Chem.MolFromSmiles(s) for s in freesolv_smiles[:80] + SMILES]
    packed = packed_fingerprints(mols)
    assert packed.shape == (len(mols), FP_BYTES) and packed.dtype == np.uint8
    bv = morgan_bitvects([Chem.MolToSmiles(m) for m in mols])
    for i in (0, 5, 80, 83, len(mols) - 1):
        want = DataStructs.BulkTanimotoSimilarity(bv[i], bv)
        np.testing.assert_array_equal(tanimoto(packed[i], packed), want)
    empty = np.zeros((2, FP_BYTES), dtype=np.uint8)
    np.testing.assert_array_equal(tanimoto(empty[0], empty), [0.0, 0.0])


def test_atom_environments_radius_columns():
    env = atom_environments(Chem.MolFromSmiles("[Na+].[Cl-]"))
    assert env.shape == (2, 3) and (env[:, 0] != 0).all() and (env[:, 1:] == 0).all()
    a = atom_environments(Chem.MolFromSmiles("CCO"))
    b = atom_environments(Chem.MolFromSmiles("OCC"))
    assert sorted(map(tuple, a.tolist())) == sorted(map(tuple, b.tolist()))


@pytest.fixture(scope="module")
def ref() -> ReferenceSet:
    mols = [Chem.MolFromSmiles(s) for s in ["CCO", "CCCO", "c1ccccc1O", "CC(=O)O", "CCN"]]
    return ReferenceSet.build(mols, names=["ethanol", None, "phenol", "acetic acid", "ea"],
                              calibration=[1, 3])


def test_reference_round_trip(ref):
    tensors, meta = ref.to_tensors()
    assert all(k.startswith("reference.") for k in tensors)
    back = ReferenceSet.from_tensors(tensors, meta)
    assert back.smiles == ref.smiles and back.names == ["ethanol", "", "phenol", "acetic acid",
                                                        "ea"]
    np.testing.assert_array_equal(back.fingerprints, ref.fingerprints)
    np.testing.assert_array_equal(back.calibration, [False, True, False, True, False])
    np.testing.assert_array_equal(back.environments, ref.environments)
    assert back.n_source == 5 and ReferenceSet.from_tensors({}) is None


def test_nearest_and_unseen(ref):
    hits = ref.nearest(Chem.MolFromSmiles("CCO"), k=2)
    assert hits[0] == (0, 1.0) and hits[1][1] < 1.0 and len(ref.nearest(Chem.MolFromSmiles("C"),
                                                                         k=99)) == 5
    se = Chem.MolFromSmiles("O=[Se](O)O")
    assert ref.unseen_elements(se) == {"Se": [1]}
    r = ref.unseen_radius(se)
    assert r[1] == 0 and (r >= 0).all()  # Se: new atom type; its O neighbours: new at radius 1
    np.testing.assert_array_equal(ref.unseen_radius(Chem.MolFromSmiles("OCC")), [-1, -1, -1])
    assert ref.label(0) == "ethanol" and ref.label(1) == "CCCO"


def test_sampled_reference_keeps_environments_of_all():
    mols = [Chem.MolFromSmiles(s) for s in SMILES[:4]]
    small = ReferenceSet.build(mols, max_size=2, seed=3)
    again = ReferenceSet.build(mols, max_size=2, seed=3)
    assert len(small) == 2 and small.n_source == 4 and small.smiles == again.smiles
    assert 34 in small.elements.tolist()  # Se is seen even if its molecule was not kept


def test_new_model_files_carry_the_reference(tiny_model, tiny_model_path, freesolv_smiles):
    ref = tiny_model.reference_
    assert len(ref) == 200 and ref.calibration.sum() == tiny_model.n_cal_ == 40
    assert set(ref.smiles) == {Chem.MolToSmiles(Chem.MolFromSmiles(s))
                               for s in freesolv_smiles[:200]}
    cal = type(tiny_model)(seed=0, val_fraction=0.2)._split(200)[1]  # the fixture's split
    assert np.flatnonzero(ref.calibration).tolist() == cal.tolist()
    assert read_manifest(tiny_model_path)["reference"]["n"] == 200
    assert load_scoring_model(tiny_model_path).reference_ is None  # workers skip it


def test_reference_opt_out_and_graph_input(freesolv_smiles):
    from molood.detectors.sego.detector import SEGODetector

    kw = dict(epochs=1, hidden_dim=8, batch_size=16, val_fraction=0.2, verbose=False)
    assert SEGODetector(reference_size=0, **kw).fit(freesolv_smiles[:30]).reference_ is None
    det = SEGODetector(reference_size=10, **kw).fit(freesolv_smiles[:30])
    assert len(det.reference_) == 10 and det.reference_.n_source == 30


def test_bundled_model_carries_its_reference_set():
    det = load_model()
    ref = resolve_reference(det)
    assert ref is det.reference_ and len(ref) == det.n_fit_ == 642
    assert ref.calibration.sum() == det.n_cal_
    assert ref.names[0] == "4-methoxy-N,N-dimethyl-benzamide"


def test_sidecar_written_from_the_training_file(tmp_path, freesolv_smiles):
    from molood.detectors.sego.detector import SEGODetector

    train = tmp_path / "train.csv"
    pd.DataFrame({"smiles": freesolv_smiles[:40], "name": [f"m{i}" for i in range(40)]}
                 ).to_csv(train, index=False)
    det = SEGODetector(epochs=1, hidden_dim=8, batch_size=16, val_fraction=0.2,
                       reference_size=0, verbose=False).fit(freesolv_smiles[:40])
    model = tmp_path / "m.molood"
    det.save(model)
    out = write_sidecar(model, train)
    assert out == sidecar_path(model) and out.exists()
    side = read_sidecar(model, read_manifest(model))
    assert side.names[:2] == ["m0", "m1"]
    assert sorted(np.flatnonzero(side.calibration).tolist()) == det.cal_index_.tolist()
    other = tmp_path / "other.csv"
    pd.DataFrame({"smiles": freesolv_smiles[40:80]}).to_csv(other, index=False)
    with pytest.raises(MoloodModelError, match="not the training set"):
        write_sidecar(model, other)


def test_explicit_references(tmp_path, tiny_model):
    r = reference_from_smiles(["CCO", "not a smiles", "CCN"], names=["a", "b", "c"])
    assert r.smiles == ["CCO", "CCN"] and r.names == ["a", "c"]
    f = tmp_path / "ref.csv"
    pd.DataFrame({"SMILES": ["CCO", "c1ccccc1"], "id": ["X1", "X2"]}).to_csv(f, index=False)
    assert reference_from_file(f).names == ["X1", "X2"]
    assert resolve_reference(tiny_model, str(f)).smiles == ["CCO", "c1ccccc1"]
    assert resolve_reference(tiny_model, ["CCC"]).smiles == ["CCC"]
    assert resolve_reference(tiny_model) is tiny_model.reference_
    assert resolve_reference(None, None, tmp_path / "no-sidecar.molood") is None


@pytest.mark.filterwarnings("ignore:skipping 1 unparseable")
def test_train_file_names_the_reference_molecules(tmp_path, freesolv_smiles):
    from molood.train import train_file

    lib = tmp_path / "lib.csv"
    pd.DataFrame({"smiles": freesolv_smiles[:30] + ["not a smiles"],
                  "compound_id": [f"C{i}" for i in range(31)]}).to_csv(lib, index=False)
    train_file(lib, tmp_path / "m.molood", detector="sego", epochs=1, hidden_dim=8,
               batch_size=16, val_fraction=0.2, reference_size=12, verbose=False)
    ref = load_model(tmp_path / "m.molood").reference_
    assert len(ref) == 12 and ref.n_source == 30
    for smi, name in zip(ref.smiles, ref.names):  # each name belongs to its molecule
        i = int(name[1:])
        assert smi == Chem.MolToSmiles(Chem.MolFromSmiles(freesolv_smiles[i]))


def test_a_loaded_model_pickles_and_copies():
    """The reference SMILES of a loaded model are views of the mapped file; the model still
    deep-copies and pickles (e.g. to hand it to another process) and scores the same."""
    import copy
    import pickle

    det = load_model(default_model_path())
    probe = ["CCO", "c1ccc2ccccc2c1", "[U]", "CC(=O)Nc1ccc(O)cc1"]
    for other in (copy.deepcopy(det), pickle.loads(pickle.dumps(det))):
        assert list(other.reference_.smiles) == list(det.reference_.smiles)
        np.testing.assert_array_equal(other.score_samples(probe), det.score_samples(probe))

