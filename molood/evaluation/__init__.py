"""Benchmark evaluation: leakage-free splits (:mod:`.splits`), cross-split deduplication
(:mod:`.dedup`), AUROC/AUPR/FPR@95 (:mod:`.metrics`) and the Tanimoto nearest-neighbour
baseline (:mod:`.baselines`).

The names below are re-exported for convenience. Importing the package loads numpy only:
no torch, no scikit-learn, and RDKit only when SMILES are canonicalised or fingerprinted.
"""

from molood.evaluation.baselines import knn_tanimoto_scores
from molood.evaluation.dedup import canonical_smiles, dedup_id_test, dedup_ood, graph_hashes
from molood.evaluation.metrics import aupr, auroc, fpr95, fpr_at_tpr
from molood.evaluation.splits import Split, leaky_split, paper_split

__all__ = [
    "Split", "paper_split", "leaky_split",
    "canonical_smiles", "dedup_ood", "dedup_id_test", "graph_hashes",
    "auroc", "aupr", "fpr_at_tpr", "fpr95",
    "knn_tanimoto_scores",
]
