"""Reference OOD scores that need no training: Tanimoto nearest neighbour on Morgan fingerprints.

Any learned detector should beat "how far is the query from its most similar training
molecule", so the benchmarks report this baseline next to SEGO.

numpy at import time; RDKit is imported when scores are computed.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["knn_tanimoto_scores"]


def _morgan_fps(smiles: Sequence[str], what: str) -> list:
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    from molood.chem.parse import quiet_rdkit

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = []
    with quiet_rdkit():
        for i, s in enumerate(smiles):
            mol = Chem.MolFromSmiles(s)
            if mol is None:
                raise ValueError(f"{what}[{i}]: RDKit cannot parse SMILES {s!r}")
            fps.append(gen.GetFingerprint(mol))
    return fps


def knn_tanimoto_scores(train_smiles: Sequence[str], query_smiles: Sequence[str]) -> np.ndarray:
    """OOD score ``1 − max_j Tanimoto(query, train_j)`` on Morgan fingerprints (radius 2, 2048 bits).

    Higher = farther from every training molecule = more OOD. float64 [len(query_smiles)].
    """
    from rdkit import DataStructs

    if len(train_smiles) == 0:
        raise ValueError("knn_tanimoto_scores needs at least one training molecule")
    train = _morgan_fps(train_smiles, "train_smiles")
    query = _morgan_fps(query_smiles, "query_smiles")
    out = np.empty(len(query), dtype=np.float64)
    for i, fp in enumerate(query):
        out[i] = 1.0 - max(DataStructs.BulkTanimotoSimilarity(fp, train))
    return out
