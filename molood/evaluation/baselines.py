"""Reference OOD scores that need no training: Tanimoto nearest neighbour on Morgan fingerprints.

Any learned detector should beat "how far is the query from its most similar training
molecule", so the benchmarks report this baseline next to SEGO.

numpy at import time (fingerprints: :mod:`molood.chem.fingerprints`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from molood.chem.fingerprints import morgan_bitvects

__all__ = ["knn_tanimoto_scores"]


def knn_tanimoto_scores(train_smiles: Sequence[str], query_smiles: Sequence[str]) -> np.ndarray:
    """OOD score ``1 − max_j Tanimoto(query, train_j)`` on Morgan fingerprints (radius 2,
    2048 bits).

    Higher = farther from every training molecule = more OOD. float64 [len(query_smiles)].
    """
    from rdkit import DataStructs

    if len(train_smiles) == 0:
        raise ValueError("knn_tanimoto_scores needs at least one training molecule")
    train = morgan_bitvects(train_smiles, "train_smiles")
    query = morgan_bitvects(query_smiles, "query_smiles")
    out = np.empty(len(query), dtype=np.float64)
    for i, fp in enumerate(query):
        out[i] = 1.0 - max(DataStructs.BulkTanimotoSimilarity(fp, train))
    return out
