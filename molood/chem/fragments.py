"""The legacy ``largest_fragment`` rule of the featurizer, and the atom cap it interacts with.

Models without standardisation (:mod:`molood.chem.standardize`; the bundled model, format-1
files) keep one fragment of a multi-fragment record only when fitted with
``largest_fragment=True``, and pick it with this module's rule: the fragment with the most
heavy atoms (atomic number > 1); ties go to the one with more atoms in total, then to the
fragment containing the lowest atom index. Models with standardisation use RDKit's
``LargestFragmentChooser`` instead (independent of how the record is written); this rule stays
so that old models score exactly as they always did.
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem

from molood.chem.limits import too_large
from molood.graphs.arrays import GraphArrays

__all__ = ["pick_fragment", "select_fragments", "size_error"]


def pick_fragment(frags: tuple[tuple[int, ...], ...], z: list[int]) -> tuple[int, ...]:
    """Atom ids (sorted) of the kept fragment of ``frags`` (``Chem.GetMolFrags``), ``z`` the
    atomic number per atom: most heavy atoms, then most atoms, then the fragment found first
    (lowest atom id)."""
    best, best_key = frags[0], None
    for frag in frags:
        heavy = sum(1 for a in frag if z[a] > 1)
        key = (heavy, len(frag), -min(frag))
        if best_key is None or key > best_key:
            best, best_key = frag, key
    return tuple(sorted(best))


def size_error(mol: Chem.Mol, max_atoms: int | None, largest_fragment: bool = False
               ) -> str | None:
    """``"too_large: N atoms (max_atoms=M)"`` when the graph featurized from ``mol`` (its kept
    fragment with ``largest_fragment``) has more than ``max_atoms`` atoms, else None (also
    for ``max_atoms=None``). See :data:`~molood.chem.limits.DEFAULT_MAX_ATOMS`."""
    n = mol.GetNumAtoms()
    if max_atoms is None or n <= max_atoms:
        return None
    if largest_fragment:
        frags = Chem.GetMolFrags(mol)
        if len(frags) > 1:
            n = len(pick_fragment(frags, [a.GetAtomicNum() for a in mol.GetAtoms()]))
    return too_large(n, max_atoms) if n > max_atoms else None


def select_fragments(x: np.ndarray, src: np.ndarray, dst: np.ndarray, n_atoms: np.ndarray,
                     num_edges: np.ndarray, node_off: np.ndarray,
                     frag_keep: list[tuple[int, tuple[int, ...]]]) -> GraphArrays:
    """A batch's arrays with only the kept atoms (``frag_keep``: (graph, local atom ids)) of
    the multi-fragment graphs, and their edges, renumbered; other graphs unchanged."""
    keep = np.ones(x.shape[0], dtype=bool)
    for i, atoms in frag_keep:
        lo, hi = node_off[i], node_off[i + 1]
        keep[lo:hi] = False
        keep[lo + np.asarray(atoms, dtype=np.int64)] = True
    new_id = np.cumsum(keep) - 1
    ekeep = keep[src]  # both ends of a bond lie in the same fragment
    graph_of_node = np.repeat(np.arange(n_atoms.shape[0]), n_atoms)
    graph_of_edge = np.repeat(np.arange(n_atoms.shape[0]), num_edges)
    nn = np.bincount(graph_of_node[keep], minlength=n_atoms.shape[0]).astype(np.int64)
    ne = np.bincount(graph_of_edge[ekeep], minlength=n_atoms.shape[0]).astype(np.int64)
    xk = x[keep]
    return GraphArrays(x=xk, leaf_x=xk, src=new_id[src[ekeep]], dst=new_id[dst[ekeep]],
                       num_nodes=nn, num_edges=ne)
