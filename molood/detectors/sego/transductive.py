"""The SEGO authors' *transductive* evaluation score, kept for paper reproduction only.

The published code scores each test molecule against the other test molecules of its shuffled
batch (spec §5). Such a score depends on the batch's composition, so molood's product scores use
a fixed bank of ID graphs instead (``SEGODetector.score_samples``); ``benchmarks/ood_pairs.py``
uses this one to measure how much of the paper's numbers comes from
scoring ID and OOD test molecules together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from molood.detectors.sego.backend import torch_threads
from molood.detectors.sego.batching import prepare
from molood.detectors.sego.losses import global_infonce, local_infonce_eval

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.sego.detector import SEGODetector

__all__ = ["in_batch_scores"]


def in_batch_scores(det: "SEGODetector", X: Any, batch_size: int = 128,
                random_state: int = 0) -> np.ndarray:
    """The published code's *transductive* evaluation scores — for paper reproduction only.

    The inputs are shuffled (``random_state``) and cut into batches of ``batch_size``; each
    molecule's global term is the in-batch InfoNCE against the *other inputs of its batch*
    (spec §5), so a score depends on its batch neighbours, the batch size and the order —
    everything ``SEGODetector.score_samples`` is built not to. Local term and z-scoring as in
    ``score_samples``.
    """
    det._check_is_fitted()
    ga, valid, _ = det._graphs(X)
    out = np.full(valid.shape[0], np.nan, dtype=np.float64)
    if ga is None:
        return out
    n = len(ga)
    l_g, l_n = np.zeros(n), np.zeros(n)
    perm = np.random.RandomState(random_state).permutation(n)
    with torch_threads(det.num_threads), torch.inference_mode():
        data = prepare(ga, with_leaf=False)
        for s in range(0, n, max(1, int(batch_size))):
            idx = np.sort(perm[s:s + batch_size])
            num_nodes, emb = det._forward_eval(data, idx)
            l_g[idx] = global_infonce(emb["g_f"].double(), emb["g_s"].double()).numpy()
            l_n[idx] = local_infonce_eval(emb["n_f"], emb["n_s"], num_nodes).numpy()
    out[valid] = det._combine(l_g, l_n, data.num_nodes)
    return out
