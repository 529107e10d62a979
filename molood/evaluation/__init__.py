"""Benchmark evaluation: leakage-free splits (:mod:`.splits`), cross-split deduplication
(:mod:`.dedup`), AUROC/AUPR/FPR@95 (:mod:`.metrics`) and the Tanimoto nearest-neighbour
baseline (:mod:`.baselines`). No torch.
"""
