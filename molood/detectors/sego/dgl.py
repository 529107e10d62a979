"""Molecules and graph arrays -> DGL graphs: the input format of SEGO's training network.

``to_dgl`` turns :class:`~molood.graphs.arrays.GraphArrays` into one batched ``DGLGraph`` with
the node features SEGO's views use; ``mol_to_graph`` / ``smiles_to_graph`` / ``smiles_to_batch``
do the same from RDKit molecules or SMILES (the product's public RDKit → DGL conversion).
Importing this module imports DGL and torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
from rdkit import Chem

from molood.chem.features import mols_to_arrays, smiles_to_arrays
from molood.detectors.sego.backend import import_dgl
from molood.graphs.arrays import GraphArrays
from molood.graphs.features import leaf_features, topo_features

if TYPE_CHECKING:  # pragma: no cover
    import dgl

__all__ = ["to_dgl", "mol_to_graph", "smiles_to_graph", "smiles_to_batch"]


def to_dgl(ga: GraphArrays) -> "dgl.DGLGraph":
    """One batched DGL graph built straight from the concatenated arrays.

    ``batch_num_nodes``/``batch_num_edges`` are set, so ``dgl.unbatch`` and readouts see the
    B graphs. ndata: ``x`` (dtype of ``ga.x``: int64 for molecules), ``topo`` float32 [N, 32],
    ``leaf`` float32 [N, F_leaf + 11].
    """
    dgl = import_dgl()
    N = int(ga.x.shape[0])
    g = dgl.graph((torch.from_numpy(np.ascontiguousarray(ga.src, dtype=np.int64)),
                   torch.from_numpy(np.ascontiguousarray(ga.dst, dtype=np.int64))),
                  num_nodes=N, idtype=torch.int64)
    g.set_batch_num_nodes(torch.from_numpy(ga.num_nodes.astype(np.int64)))
    g.set_batch_num_edges(torch.from_numpy(ga.num_edges.astype(np.int64)))
    g.ndata["x"] = torch.from_numpy(np.ascontiguousarray(ga.x))
    g.ndata["topo"] = torch.from_numpy(topo_features(ga))
    g.ndata["leaf"] = torch.from_numpy(leaf_features(ga))
    return g


def mol_to_graph(mol: Chem.Mol, largest_fragment: bool = False) -> "dgl.DGLGraph":
    """One RDKit molecule as a (batch of one) DGL graph; raises ValueError for None."""
    if mol is None:
        raise ValueError("mol_to_graph got None (an RDKit parse failure?); pass a valid Mol")
    return to_dgl(mols_to_arrays([mol], largest_fragment))


def smiles_to_graph(smiles: str, largest_fragment: bool = False) -> "dgl.DGLGraph":
    """One SMILES as a DGL graph; raises ValueError carrying the reason for invalid input."""
    ga, errors = smiles_to_arrays([smiles], largest_fragment)
    if errors[0] is not None:
        raise ValueError(f"cannot featurize SMILES {smiles!r}: {errors[0]}")
    return to_dgl(ga)


def smiles_to_batch(smiles_list: Sequence[str], largest_fragment: bool = False
                    ) -> tuple["dgl.DGLGraph", list[str | None]]:
    """Screener path: batched DGL graph of the valid SMILES + per-input error reasons."""
    ga, errors = smiles_to_arrays(smiles_list, largest_fragment)
    return to_dgl(ga), errors
