"""molood.chem.features: OGB parity, hand-checked values, topo/leaf features, DGL batch."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

os.environ.setdefault("DGLBACKEND", "pytorch")

from molood.chem.features import (  # noqa: E402
    inputs_to_arrays,
    molblocks_to_arrays,
    mols_to_arrays,
    smiles_to_arrays,
)
from molood.graphs.arrays import GraphArrays  # noqa: E402
from molood.graphs.features import leaf_features, topo_features  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

# molecules that exercise the edge cases of OGB's vocabulary and of RDKit's parser
EDGE_SMILES = [
    "CCO", "c1ccccc1", "c1ccncc1", "[NH3+]CC(=O)[O-]", "C", "[Na+]", "[Na+].[Cl-]",
    "[CH3]", "C |^1:0|", "C->[Fe]", "[2H]C", "[H][H]", "[H+]", "*C", "[H]C([H])([H])O",
    "F[C@H](Cl)Br", "F[C@@H](Cl)Br", "[Fe+6]", "C[Se](=O)(=O)O", "[Og]",
    "CC(C)(C)[Pt-2](F)(F)(F)(F)F", "CN(=O)=O", "[13CH4]", "C[S@](=O)c1ccccc1",
    "F[Si-2](F)(F)(F)(F)F", "[Cu+2].[O-]S(=O)(=O)[O-]", "C1CC2CCC1C2", "C=C=C",
    "F/C=C/F", "OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O", "[NH4+].[Cl-]", "[O-][n+]1ccccc1",
    "C[C@H](N)C(=O)O |&1:1|", "[CH2]C", "[C]", "B1c2ccccc2-c2ccccc21",
]


def _ogb_graph(smiles: str):
    ogb_mol = pytest.importorskip("ogb.utils.mol")
    return ogb_mol.smiles2graph(smiles)


def _parity_smiles() -> list[str]:
    smi = pd.read_csv(REPO / "data" / "freesolv.csv")["smiles"].tolist()[:300]
    smi += pd.read_parquet(REPO / "data" / "chembl_approved_drugs.parquet")["smiles"].tolist()[:300]
    return smi + EDGE_SMILES


def test_ogb_parity_features_and_edges():
    pytest.importorskip("ogb")
    smiles = _parity_smiles()
    ga, errors = smiles_to_arrays(smiles)
    assert errors == [None] * len(smiles)
    assert len(ga) == len(smiles)
    assert ga.x.dtype == np.int64 and ga.leaf_x is ga.x
    for b, s in enumerate(smiles):
        ref = _ogb_graph(s)
        sub = ga.take([b])
        np.testing.assert_array_equal(sub.x, ref["node_feat"], err_msg=s)
        np.testing.assert_array_equal(np.stack([sub.src, sub.dst]), ref["edge_index"], err_msg=s)
        assert int(sub.num_nodes[0]) == ref["num_nodes"]


def test_mols_to_arrays_equals_smiles_path():
    from rdkit import Chem

    smiles = EDGE_SMILES
    a, _ = smiles_to_arrays(smiles)
    b = mols_to_arrays([Chem.MolFromSmiles(s) for s in smiles])
    for f in ("x", "src", "dst", "num_nodes", "num_edges"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))


# plain SMILES (no brackets): the featurizer skips getters whose values it knows for them
PLAIN_SMILES = [
    "C", "CC", "C=C=C", "C=C=O", "O=C=O", "C#N", "CC#CC", "C#CC=C", "C1=CC=CC=C1", "C1=CC1",
    "CN(=O)=O", "O=N(=O)c1ccccc1", "N=N#N", "CN=N#N", "C=P(=O)O", "OCl(=O)(=O)=O", "OBr(=O)=O",
    "OI(=O)(=O)=O", "CS(C)=O", "O=S(=O)(O)O", "FC(F)(F)F", "B(O)O", "c1ccoc1", "c1ccsc1",
    "c1cnc2ncccc2c1", "*C", "C*C", "*", "CCO.O", "C.C.N", "CP(C)(C)=C", "C=S=O",
    "OC1=CC=CC=C1", "C1CC2CCC1C2", "ClC(Cl)=C(Cl)Cl", "CC(=O)Oc1ccccc1C(=O)O",
]


def test_plain_smiles_fast_path_equals_full_read():
    """For a plain SMILES the featurizer infers chirality, radicals and the carbons' charge and
    hybridization instead of asking RDKit: it must give what reading every getter gives."""
    from rdkit import Chem

    from molood.chem.parse import is_plain_smiles

    smiles = PLAIN_SMILES + pd.read_csv(REPO / "data" / "freesolv.csv")["smiles"].tolist()
    smiles += pd.read_parquet(REPO / "data" / "chembl_approved_drugs.parquet")["smiles"].tolist()
    assert all(is_plain_smiles(s) for s in PLAIN_SMILES)
    assert sum(map(is_plain_smiles, smiles)) > 1500  # half of the bundled molecules
    ga, errors = smiles_to_arrays(smiles)
    assert errors == [None] * len(smiles)
    full = mols_to_arrays([Chem.MolFromSmiles(s) for s in smiles])  # reads every getter
    for f in ("x", "src", "dst", "num_nodes", "num_edges"):
        np.testing.assert_array_equal(getattr(ga, f), getattr(full, f))
    # CN(=O)=O is charge-separated by RDKit's clean-up: N+ and O- without a bracket in sight
    nitro, _ = smiles_to_arrays(["CN(=O)=O"])
    assert sorted(nitro.x[:, 3].tolist()) == [4, 5, 5, 6]  # C 0, N +1, O 0, O -1 (charge + 5)


SHARED = Path(os.environ.get("MOLOOD_SHARED_DATA", REPO / ".." / "shared" / "data"))


@pytest.mark.skipif(not (SHARED / "far_ood" / "cmnpd_marine_natural_products.csv").exists(),
                    reason="shared data absent")
def test_plain_smiles_fast_path_on_shared_libraries():
    """The same check on every plain SMILES of the CMNPD natural products and 10,000 MOSES
    molecules (the whole of ../shared/data was checked once: 0 mismatches in 1.84 M)."""
    from rdkit import Chem

    from molood.chem.parse import is_plain_smiles

    smiles = pd.read_csv(SHARED / "far_ood" / "cmnpd_marine_natural_products.csv",
                         usecols=["SMILES"])["SMILES"].dropna().tolist()
    smiles += pd.read_csv(SHARED / "screening" / "moses_test.csv.gz",
                          nrows=10_000).iloc[:, 0].tolist()
    smiles = [s for s in smiles if is_plain_smiles(s)]
    ga, errors = smiles_to_arrays(smiles)
    ok = [s for s, e in zip(smiles, errors) if e is None]
    assert len(ok) > 12_000
    full = mols_to_arrays([Chem.MolFromSmiles(s) for s in ok])  # reads every getter
    np.testing.assert_array_equal(ga.x, full.x)


@pytest.mark.parametrize("smiles, plain", [
    ("CCO", True), ("c1ccccc1", True), ("C[C@H](N)O", False), ("[NH4+]", False),
    ("C |^1:0|", False), ("C$C", False), ("c1ccc2[nH]ccc2c1", False), ("*C", True),
])
def testis_plain_smiles(smiles, plain):
    from molood.chem.parse import is_plain_smiles

    assert is_plain_smiles(smiles) is plain


@pytest.mark.parametrize("smiles, x, edges", [
    ("CCO", [[5, 0, 4, 5, 3, 0, 2, 0, 0], [5, 0, 4, 5, 2, 0, 2, 0, 0], [7, 0, 2, 5, 1, 0, 2, 0, 0]],
     [(0, 1), (1, 0), (1, 2), (2, 1)]),
    ("c1ccccc1", [[5, 0, 3, 5, 1, 0, 1, 1, 1]] * 6,
     [(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2), (3, 4), (4, 3), (4, 5), (5, 4), (5, 0),
      (0, 5)]),
    ("c1ccncc1", [[5, 0, 3, 5, 1, 0, 1, 1, 1]] * 3 + [[6, 0, 2, 5, 0, 0, 1, 1, 1]]
     + [[5, 0, 3, 5, 1, 0, 1, 1, 1]] * 2, None),
    # glycine zwitterion: N+ (charge index 6, 3 H, sp3), carboxylate O- (charge index 4, sp2)
    ("[NH3+]CC(=O)[O-]", [[6, 0, 4, 6, 3, 0, 2, 0, 0], [5, 0, 4, 5, 2, 0, 2, 0, 0],
                          [5, 0, 3, 5, 0, 0, 1, 0, 0], [7, 0, 1, 5, 0, 0, 1, 0, 0],
                          [7, 0, 1, 4, 0, 0, 1, 0, 0]], None),
    # salt kept whole: two isolated ions, no edges; ions have no hybridisation -> misc (5)
    ("[Na+].[Cl-]", [[10, 0, 0, 6, 0, 0, 5, 0, 0], [16, 0, 0, 4, 0, 0, 2, 0, 0]], []),
    ("C", [[5, 0, 4, 5, 4, 0, 2, 0, 0]], []),
    ("[Na+]", [[10, 0, 0, 6, 0, 0, 5, 0, 0]], []),
    # explicit H atoms are removed on parse (heavy-atom graph, like OGB): methanol
    ("[H]C([H])([H])O", [[5, 0, 4, 5, 3, 0, 2, 0, 0], [7, 0, 2, 5, 1, 0, 2, 0, 0]],
     [(0, 1), (1, 0)]),
    # radical (bracket atom and CXSMILES), charge out of range (+6 -> misc 11), dummy atom
    ("[CH3]", [[5, 0, 3, 5, 3, 1, 2, 0, 0]], []),
    ("C |^1:0|", [[5, 0, 3, 5, 3, 1, 2, 0, 0]], []),
    ("[Fe+6]", [[25, 0, 0, 11, 0, 0, 5, 0, 0]], []),
    ("*C", [[118, 0, 1, 5, 0, 0, 5, 0, 0], [5, 0, 4, 5, 3, 0, 2, 0, 0]], [(0, 1), (1, 0)]),
    # isotopes change nothing but the kept H atom; dative bond is an ordinary edge
    ("[13CH4]", [[5, 0, 4, 5, 4, 0, 2, 0, 0]], []),
    ("[2H]C", [[0, 0, 1, 5, 0, 0, 5, 0, 0], [5, 0, 4, 5, 3, 0, 2, 0, 0]], [(0, 1), (1, 0)]),
    ("C->[Fe]", [[5, 0, 5, 5, 4, 0, 2, 0, 0], [25, 0, 1, 5, 0, 0, 2, 0, 0]], [(0, 1), (1, 0)]),
    ("[H][H]", [[0, 0, 1, 5, 0, 0, 5, 0, 0]] * 2, [(0, 1), (1, 0)]),
    ("[H+]", [[0, 0, 0, 6, 0, 0, 5, 0, 0]], []),
    ("F[C@H](Cl)Br", [[8, 0, 1, 5, 0, 0, 2, 0, 0], [5, 2, 4, 5, 1, 0, 2, 0, 0],
                      [16, 0, 1, 5, 0, 0, 2, 0, 0], [34, 0, 1, 5, 0, 0, 2, 0, 0]], None),
])
def test_hand_checked(smiles, x, edges):
    ga, err = smiles_to_arrays([smiles])
    assert err == [None]
    np.testing.assert_array_equal(ga.x, np.array(x, dtype=np.int64))
    if edges is not None:
        assert list(zip(ga.src.tolist(), ga.dst.tolist())) == edges
    assert not np.any(ga.src == ga.dst)


@pytest.mark.parametrize("value, prefix", [
    ("", "empty"), ("   ", "empty"), ("\t\n", "empty"), (None, "empty"), (float("nan"), "empty"),
    ("C1CC", "invalid_smiles: SMILES Parse Error: unclosed ring"),
    ("N(C)(C)(C)C", "invalid_smiles: Explicit valence"),
    ("xyz", "invalid_smiles: SMILES Parse Error"),
    ("C\x00C", "invalid_smiles"), (42, "invalid_smiles: not a string"),
])
def test_errors_stay_aligned(value, prefix, capfd):
    ga, err = smiles_to_arrays(["CCO", value, "c1ccccc1"])
    assert err[0] is None and err[2] is None
    assert err[1].startswith(prefix), err[1]
    assert len(ga) == 2 and ga.num_nodes.tolist() == [3, 6]
    # RDKit's log must not reach stderr: it is in the reason
    assert "SMILES Parse Error" not in capfd.readouterr().err


def test_whitespace_and_name_and_cxsmiles():
    ga, err = smiles_to_arrays(["  CCO  ", "CCO ethanol", "CCO\tethanol",
                                "C[C@H](N)C(=O)O |&1:1|"])
    assert err == [None] * 4
    assert ga.num_nodes.tolist() == [3, 3, 3, 6]
    # CXSMILES enhanced stereo keeps the chiral tag
    assert ga.x[ga.node_offsets[3] + 1, 1] in (1, 2)


def test_largest_fragment():
    smiles = ["[Na+].[O-]C(=O)c1ccccc1", "CC.CCC.O", "CCO", "[Na+].[Cl-]", "CC.OO"]
    whole, _ = smiles_to_arrays(smiles)
    assert whole.num_nodes.tolist() == [10, 6, 3, 2, 4]
    ga, err = smiles_to_arrays(smiles, largest_fragment=True)
    assert err == [None] * 5
    # benzoate (9 heavy), propane, ethanol unchanged, tie Na/Cl (1 heavy each, 1 atom each)
    # -> the fragment with the lowest atom index, tie C2/O2 -> first
    assert ga.num_nodes.tolist() == [9, 3, 3, 1, 2]
    assert ga.num_edges.tolist() == [18, 4, 4, 0, 2]
    assert ga.x[ga.node_offsets[3], 0] == 10  # Na
    assert ga.x[ga.node_offsets[4], 0] == 5  # C of ethane
    # features equal featurizing the fragment alone, edges stay inside each graph
    alone, _ = smiles_to_arrays(["[O-]C(=O)c1ccccc1"])
    np.testing.assert_array_equal(ga.take([0]).x, alone.x)
    np.testing.assert_array_equal(ga.take([0]).src, alone.src)
    g = np.repeat(np.arange(len(ga)), ga.num_nodes)
    assert np.all(g[ga.src] == g[ga.dst])


def test_molblocks_to_arrays():
    from rdkit import Chem

    good = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO"))
    bad = good.replace(" O ", " Xx")
    ga, err = molblocks_to_arrays([good, bad, None, ""])
    assert err[0] is None and err[1].startswith("sdf_parse_error: ") and "Xx" in err[1]
    assert err[2] == err[3] == "empty"
    ref, _ = smiles_to_arrays(["CCO"])
    np.testing.assert_array_equal(ga.x, ref.x)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.text(max_size=40),
                          st.text(alphabet="CNOSc1()[]=#@+-.H234 |:^&/\\*>", max_size=30)),
                max_size=6))
def test_never_raises(texts):
    ga, err = smiles_to_arrays(texts)
    assert len(err) == len(texts)
    assert len(ga) == sum(e is None for e in err)
    assert all(e is None or isinstance(e, str) and e for e in err)
    assert ga.x.shape == (int(ga.num_nodes.sum()), 9)


# ---------------------------------------------------------------------- topo / leaf
def _random_graphs(rng, n_graphs=60) -> GraphArrays:
    xs, srcs, dsts, nn, ne, base = [], [], [], [], [], 0
    for _ in range(n_graphs):
        n = int(rng.choice([1, 2, 3, 5, 8, 9, 13, 17, 24, 33]))
        m = int(rng.integers(0, 2 * n + 1))
        u = rng.integers(0, n, m)
        v = rng.integers(0, n, m)
        keep = u != v
        u, v = u[keep], v[keep]
        s = np.stack([u, v], 1).reshape(-1)
        d = np.stack([v, u], 1).reshape(-1)
        xs.append(np.ones((n, 1), np.float32))
        srcs.append(s + base)
        dsts.append(d + base)
        nn.append(n)
        ne.append(s.shape[0])
        base += n
    x = np.concatenate(xs)
    return GraphArrays(x=x, leaf_x=x, src=np.concatenate(srcs).astype(np.int64),
                       dst=np.concatenate(dsts).astype(np.int64),
                       num_nodes=np.array(nn, np.int64), num_edges=np.array(ne, np.int64))


def _dense_reference(ga: GraphArrays) -> np.ndarray:
    rows = []
    no, eo = ga.node_offsets, ga.edge_offsets
    for b in range(len(ga)):
        n = int(ga.num_nodes[b])
        A = np.zeros((n, n))
        np.add.at(A, (ga.src[eo[b]:eo[b + 1]] - no[b], ga.dst[eo[b]:eo[b + 1]] - no[b]), 1.0)
        deg = A.sum(1)
        P = A / np.maximum(deg, 1)[:, None]
        rw = np.stack([np.diag(np.linalg.matrix_power(P, k)) for k in range(1, 17)], 1)
        oh = np.zeros((n, 16))
        oh[np.arange(n), np.minimum(deg.astype(int), 15)] = 1
        rows.append(np.concatenate([rw, oh], 1))
    return np.concatenate(rows)


def test_topo_features_match_dense_reference():
    rng = np.random.default_rng(0)
    ga = _random_graphs(rng)
    topo = topo_features(ga)
    assert topo.dtype == np.float32 and topo.shape == (ga.x.shape[0], 32)
    np.testing.assert_allclose(topo, _dense_reference(ga), atol=1e-6, rtol=0)
    # isolated nodes: zero return probability, degree slot 0
    iso = ga.degree == 0
    assert iso.any() and np.all(topo[iso, :16] == 0) and np.all(topo[iso, 16] == 1)


def test_topo_features_molecules_and_batch_invariance():
    ga, _ = smiles_to_arrays(EDGE_SMILES)
    topo = topo_features(ga)
    np.testing.assert_allclose(topo, _dense_reference(ga), atol=1e-6, rtol=0)
    # features of a graph do not depend on the rest of the batch
    sub = ga.take([3, 0])
    np.testing.assert_allclose(topo_features(sub),
                               np.concatenate([topo[ga.node_offsets[3]:ga.node_offsets[4]],
                                               topo[ga.node_offsets[0]:ga.node_offsets[1]]]),
                               atol=1e-7)
    # benzene: return probability after 1 step is 0, after 2 steps 1/2
    b = EDGE_SMILES.index("c1ccccc1")
    row = topo[ga.node_offsets[b]]
    assert row[0] == 0 and row[1] == pytest.approx(0.5) and row[16 + 2] == 1


def test_leaf_features():
    ga, _ = smiles_to_arrays(["CCO", "C1CC2CCC1C2", "[Na+]"])
    leaf = leaf_features(ga)
    assert leaf.dtype == np.float32 and leaf.shape == (ga.x.shape[0], 20)
    np.testing.assert_array_equal(leaf[:, :9], ga.x.astype(np.float32))
    deg = np.concatenate([[1, 2, 1], [2, 2, 3, 2, 2, 3, 2], [0]])
    np.testing.assert_array_equal(leaf[:, 9:].argmax(1), deg)
    assert np.all(leaf[:, 9:].sum(1) == 1)
    # generic graph: degree capped at 10
    n = 13
    star = GraphArrays(x=np.ones((n, 1), np.float32), leaf_x=np.ones((n, 1), np.float32),
                       src=np.r_[np.zeros(12), np.arange(1, 13)].astype(np.int64),
                       dst=np.r_[np.arange(1, 13), np.zeros(12)].astype(np.int64),
                       num_nodes=np.array([n]), num_edges=np.array([24]))
    lf = leaf_features(star)
    assert lf.shape == (n, 12) and lf[0, 1 + 10] == 1 and lf[1, 1 + 1] == 1


# ---------------------------------------------------------------------- DGL
def test_to_dgl_batch_structure():
    dgl = pytest.importorskip("dgl")
    import torch

    from molood.detectors.sego.dgl import smiles_to_batch, smiles_to_graph, to_dgl

    smiles = ["CCO", "bad((", "[Na+]", "c1ccccc1", "C"]
    g, err = smiles_to_batch(smiles)
    assert err[1].startswith("invalid_smiles") and sum(e is None for e in err) == 4
    assert g.batch_size == 4
    assert g.batch_num_nodes().tolist() == [3, 1, 6, 1]
    assert g.batch_num_edges().tolist() == [4, 0, 12, 0]
    assert g.ndata["x"].dtype == torch.int64 and g.ndata["x"].shape == (11, 9)
    assert g.ndata["topo"].dtype == torch.float32 and g.ndata["topo"].shape == (11, 32)
    assert g.ndata["leaf"].dtype == torch.float32 and g.ndata["leaf"].shape == (11, 20)
    parts = dgl.unbatch(g)
    assert [p.num_nodes() for p in parts] == [3, 1, 6, 1]
    single = smiles_to_graph("c1ccccc1")
    assert torch.equal(parts[2].ndata["x"], single.ndata["x"])
    assert torch.equal(torch.stack(parts[2].edges()), torch.stack(single.edges()))
    assert torch.allclose(parts[2].ndata["topo"], single.ndata["topo"])
    ro = dgl.readout_nodes(g, "leaf", op="sum")
    assert ro.shape == (4, 20) and ro[1, 9] == 1  # [Na+]: degree 0
    with pytest.raises(ValueError, match="invalid_smiles"):
        smiles_to_graph("C1CC")
    # empty batch
    ga, _ = smiles_to_arrays(["", "x"])
    e = to_dgl(ga)
    assert e.num_nodes() == 0 and e.batch_size == 0


def test_import_molood_stays_light():
    import subprocess
    import sys

    code = ("import sys, molood, molood.io, molood.graphs.arrays, molood.chem.features, "
            "molood.train; "
            "assert 'torch' not in sys.modules and 'dgl' not in sys.modules, "
            "[m for m in ('torch', 'dgl') if m in sys.modules]")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_inputs_to_arrays_dispatches_on_kind():
    from rdkit import Chem

    smiles = ["CCO", "C1CC", None, "[Na+].[Cl-]"]
    blocks = [Chem.MolToMolBlock(Chem.MolFromSmiles(s)) if s in ("CCO", "[Na+].[Cl-]") else s
              for s in smiles]
    for largest in (False, True):
        a, ea = inputs_to_arrays(smiles, "smiles", largest_fragment=largest)
        b, eb = smiles_to_arrays(smiles, largest_fragment=largest)
        assert ea == eb
        for name in ("x", "src", "dst", "num_nodes", "num_edges"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        c, ec = inputs_to_arrays(blocks, "molblock", largest_fragment=largest)
        d, ed = molblocks_to_arrays(blocks, largest_fragment=largest)
        assert ec == ed and ec[0] is None and ec[1].startswith("sdf_parse_error")
        np.testing.assert_array_equal(c.x, d.x)
        np.testing.assert_array_equal(c.x, a.x)  # the same molecules, either way
    with pytest.raises(ValueError, match="input kind"):
        inputs_to_arrays(smiles, "inchi")
