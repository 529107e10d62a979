"""molood.graphs.randomwalk / features: random-walk returns.

* ordinary graphs (≤ DENSE_MAX_NODES nodes) give the bytes of the original dense code
  (:data:`ORIGINAL_RW_SHA256`) on every FreeSolv molecule and every ChEMBL approved drug;
* the sparse path (larger graphs) equals the dense computation to 1e-12 before the float32
  cast, on random graphs (connected, fragmented, multi-edges, self loops, isolated nodes);
* it is linear in atoms: a 20,000-node chain or 5,000 fragments take well under a second.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import molood.graphs.randomwalk as rw
from molood.graphs.arrays import GraphArrays
from molood.graphs.features import topo_features

DATA = Path(__file__).resolve().parents[2] / "data"


ORIGINAL_RW_SHA256 = "e037376593c34c9b237710e2cc00ed3d0ac5814c53eb58d1adc65c7ce6e6770f"
"""SHA-256 of the float32 random-walk returns [79416, 16] that the original dense code
(``molood.featurize._rw_returns`` at commit 82c1e16) gives for every FreeSolv molecule followed
by every ChEMBL approved drug of ``data/``."""


def _dense_reference(ga: GraphArrays, steps: int = 16) -> np.ndarray:
    """The dense computation for every graph whatever its size (float64, before the cast)."""
    out = np.zeros((ga.x.shape[0], steps), dtype=np.float64)
    with mock.patch.object(rw, "DENSE_MAX_NODES", np.inf):
        rw._rw_dense(ga, np.maximum(ga.degree, 1).astype(np.float64), steps, out)
    return out


def _random_graph(rng: np.random.Generator, n: int, kind: str) -> tuple[int, np.ndarray]:
    """(n, undirected edges [m, 2]) of a random graph of the given kind."""
    if kind == "tree":  # molecule-like: every node joins an earlier one
        e = np.stack([rng.integers(0, np.arange(1, n)), np.arange(1, n)], axis=1)
    elif kind == "rings":  # tree plus ring closures
        e = np.stack([rng.integers(0, np.arange(1, n)), np.arange(1, n)], axis=1)
        e = np.concatenate([e, rng.integers(0, n, size=(n // 5, 2))])
    elif kind == "fragments":  # many small pieces and isolated nodes
        a = rng.integers(0, n, size=n // 2)
        e = np.stack([a, np.minimum(a + rng.integers(1, 4, size=a.shape), n - 1)], axis=1)
    else:  # "dense": random multigraph with self loops
        e = rng.integers(0, n, size=(3 * n, 2))
    return n, e


@pytest.fixture(scope="module")
def molecules() -> GraphArrays:
    from molood.chem.features import smiles_to_arrays

    smi = (pd.read_csv(DATA / "freesolv.csv")["smiles"].tolist()
           + pd.read_parquet(DATA / "chembl_approved_drugs.parquet")["smiles"].tolist())
    ga, errors = smiles_to_arrays(smi)
    assert not any(errors)
    return ga


def test_dense_path_is_the_original_code_byte_for_byte(molecules):
    assert int(molecules.num_nodes.max()) <= rw.DENSE_MAX_NODES
    topo = topo_features(molecules)
    rw_bytes = np.ascontiguousarray(topo[:, :16]).tobytes()
    assert hashlib.sha256(rw_bytes).hexdigest() == ORIGINAL_RW_SHA256
    for b in (0, 5, 700):  # alone in its batch too
        one = molecules.take([b])
        assert topo_features(one).tobytes() == topo[molecules.node_offsets[b]:
                                                    molecules.node_offsets[b + 1]].tobytes()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(100, 300),
       kind=st.sampled_from(["tree", "rings", "fragments", "dense"]))
def test_sparse_path_equals_dense(seed, n, kind):
    ga = GraphArrays.from_graphs([_random_graph(np.random.default_rng(seed), n, kind)])
    deg = np.maximum(ga.degree, 1).astype(np.float64)
    got = rw._rw_sparse(ga.src, ga.dst, deg, 16)
    np.testing.assert_allclose(got, _dense_reference(ga), rtol=0, atol=1e-12)


def test_large_graphs_take_the_sparse_path_inside_a_mixed_batch(monkeypatch):
    rng = np.random.default_rng(1)
    graphs = [_random_graph(rng, n, kind) for n, kind in
              [(5, "tree"), (150, "rings"), (1, "tree"), (220, "fragments"), (40, "dense"),
               (130, "dense")]]
    ga = GraphArrays.from_graphs(graphs)
    dense = rw.rw_returns(ga)  # every graph is below DENSE_MAX_NODES
    monkeypatch.setattr(rw, "DENSE_MAX_NODES", 64)
    mixed = rw.rw_returns(ga)
    np.testing.assert_allclose(mixed, _dense_reference(ga), rtol=0, atol=1e-7)
    small = np.repeat(ga.num_nodes <= 64, ga.num_nodes)
    assert mixed[small].tobytes() == dense[small].tobytes()  # small graphs keep their bits


def test_sparse_path_is_linear_in_atoms():
    n = 20_000
    chain = GraphArrays.from_graphs([(n, np.stack([np.arange(n - 1), np.arange(1, n)], 1))])
    pieces = GraphArrays.from_graphs([(15_000, np.stack([np.arange(0, 15_000, 3),
                                                         np.arange(1, 15_000, 3)], 1))])
    for ga in (chain, pieces):
        t0 = time.perf_counter()
        out = rw.rw_returns(ga)
        assert time.perf_counter() - t0 < 5.0  # ~0.1 s; the dense path took minutes
        assert out.shape == (ga.x.shape[0], 16) and np.isfinite(out).all()
    mid = rw.rw_returns(chain)[n // 2]  # a long path: return probabilities of a line walk
    assert mid[0] == 0 and mid[1] == 0.5 and mid[3] == 0.375
