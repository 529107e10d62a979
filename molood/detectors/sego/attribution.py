"""SEGO's score split into a molecule-level and an atom-level part (for explanations).

SEGO's score is ``z_g + z_n`` (faithful mode adds ``z_t``) with

- ``z_g = (L_g − μ_g) / σ_g``: the graph-level InfoNCE of the molecule's two views against the
  fixed bank of training graphs — a whole-molecule term ("global");
- ``z_n = (L_n − μ_n) / σ_n`` with ``L_n = (1/n) Σ_i ℓ_i`` the mean over the molecule's n atoms
  of the node-level InfoNCE term ``ℓ_i``
  (:func:`~molood.detectors.sego.losses.local_infonce_nodes`): how badly atom i's two views (atom
  features vs. local topology) pick each other out among the molecule's other atoms ("local").

The local term is a sum over atoms, so it splits exactly: atom i contributes

    c_i = (ℓ_i − μ_n) / (σ_n · n),      Σ_i c_i = z_n,

in units of the ID spread of the local term. ``c_i > 0``: the atom's term is above the ID
average, it pushes the molecule towards OOD; ``c_i < 0``: it looks more typical than average.
Molecules of one atom have no local contrast; their local term and contribution are 0, as in
the score. With ``largest_fragment`` the atoms of dropped fragments get 0. A model that
standardises scores the standardised molecule; the contributions then index its atoms
(``ScoreTerms.mol``), which is what explanations draw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from molood.detectors.inputs import as_list
from molood.detectors.sego.backend import torch_threads
from molood.detectors.sego.batching import prepare
from molood.detectors.sego.losses import bank_infonce, local_infonce_eval, local_infonce_nodes
from molood.detectors.terms import ScoreTerms

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.sego.detector import SEGODetector

__all__ = ["sego_score_terms", "MEANING"]

MEANING = {
    "global": "graph-level term (L_g - mu_g)/sd_g: the whole molecule against the bank of "
              "training graphs",
    "local": "node-level term (L_n - mu_n)/sd_n: mean over atoms of the per-atom InfoNCE loss",
    "tree": "faithful mode: the graph-level loss again, with the tree-loss statistics",
    "atoms": "c_i = (l_i - mu_n)/(sd_n * n), sums to the local term; > 0 = more OOD",
}

_BATCH = 64


def _atom_map(mol: Any, n_nodes: int, largest_fragment: bool) -> np.ndarray | None:
    """Atom index of each graph node: the identity, or the kept fragment's atoms."""
    n_atoms = mol.GetNumAtoms()
    if n_nodes == n_atoms:
        return np.arange(n_atoms)
    if largest_fragment:
        from rdkit import Chem

        from molood.chem.fragments import pick_fragment

        kept = pick_fragment(Chem.GetMolFrags(mol), [a.GetAtomicNum() for a in mol.GetAtoms()])
        if len(kept) == n_nodes:
            return np.asarray(kept, dtype=np.int64)
    return None  # the featurizer changed the molecule in a way we cannot map


def sego_score_terms(det: "SEGODetector", X: Any) -> list[ScoreTerms]:
    """:meth:`~molood.detectors.base.BaseDetector.score_terms` for SEGO (module docstring).

    ``score`` equals :meth:`SEGODetector.score_samples` bit for bit (same scoring path); the
    terms add up to it and the atom contributions to the local term, up to float rounding.
    """
    det._check_is_fitted()
    items = as_list(X)
    std, largest = det.featurizer_settings()
    if std is not None:  # the standardised molecule scored: its atoms are the graph's nodes
        from rdkit import Chem

        smiles: list[str | None] = []
        ga, valid, errors = det._graphs(items, smiles)
        mols = [Chem.MolFromSmiles(s) if s else None for s in smiles]
    else:  # the molecule as written (dropped fragments get 0, see _atom_map)
        from molood.chem.parse import parse

        ga, valid, errors = det._graphs(items)
        mols = [parse(it)[0] if isinstance(it, str) else it for it in items]
    out: list[ScoreTerms] = [ScoreTerms(float("nan"), e or "not scored") for e in errors]
    if ga is None:
        return out
    st = det.stats_
    bank_f, bank_s = det.bank_f_.double(), det.bank_s_.double()
    rows = np.flatnonzero(valid)
    with torch_threads(det.num_threads), torch.inference_mode():
        data = prepare(ga, with_leaf=False)
        for s in range(0, len(ga), _BATCH):
            idx = np.arange(s, min(s + _BATCH, len(ga)))
            num_nodes, emb = det._forward_eval(data, idx)
            l_g = bank_infonce(emb["g_f"].double(), emb["g_s"].double(), bank_f, bank_s).numpy()
            nodes = local_infonce_nodes(emb["n_f"], emb["n_s"], num_nodes).numpy()
            l_n = local_infonce_eval(emb["n_f"], emb["n_s"], num_nodes).numpy()
            nn_ = num_nodes.numpy()
            scores = det._combine(l_g, l_n, nn_)
            lo = 0
            for j, g in enumerate(idx.tolist()):
                n = int(nn_[j])
                row = int(rows[g])
                terms = {"global": float((l_g[j] - st["mu_g"]) / st["sd_g"]),
                         "local": float((l_n[j] - st["mu_n"]) / st["sd_n"]) if n > 1 else 0.0}
                if det.mode == "faithful":
                    terms["tree"] = float((l_g[j] - st["mu_t"]) / st["sd_t"])
                c = ((nodes[lo:lo + n] - st["mu_n"]) / (st["sd_n"] * n) if n > 1
                     else np.zeros(n))
                lo += n
                atoms = None
                mol = mols[row]
                amap = _atom_map(mol, n, largest) if mol is not None else None
                if amap is not None:
                    atoms = np.zeros(mol.GetNumAtoms())
                    atoms[amap] = c
                out[row] = ScoreTerms(float(scores[j]), "ok", terms, atoms, "local", MEANING,
                                      atom_scale=float(max(n, 1)),
                                      mol=mol if std is not None else None)
    return out
