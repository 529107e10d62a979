"""Graph-level anomaly detection inside one data set: GOOD-D's protocol and a WL-kNN floor.

SEGO's Table 2 (AUROC on ENZYMES, DHFR, BZR, NCI1, IMDB-B) ships no script; it follows the
anomaly-detection setup of GOOD-D's code (``yixinliu233/G-OOD-D`` @89d00d0, ``data_loader.py``:
``get_ad_split_TU`` / ``get_ad_dataset_TU``; ``main.py``), which :func:`ad_splits` re-implements:

- **Normal / anomalous.** PyG's ``TUDataset`` renumbers graph labels to ``0..C-1`` in sorted
  order; class 0 (the *smallest* label value in ``*_graph_labels.txt``: −1 for BZR/DHFR, 1 for
  ENZYMES, 0 for NCI1/IMDB-B) is the anomaly class, every other class is normal.
- **Folds.** ``StratifiedKFold(n_splits=5, shuffle=True, random_state=0)`` over all graphs,
  stratified on the class label; trial ``t`` (0..4) tests on fold ``t``.
- **Train.** The other four folds' *normal* graphs only (anomalies in them are discarded).
- **Test.** The whole held-out fold, anomaly = positive class, in its natural proportion.
- **Trials.** 5 (one per fold), model seed ``t + 1``; AUROC of the last epoch, mean ± population
  std over the trials.

Train and test are disjoint by construction (:class:`ADSplit` checks it). Note that GOOD-D's AD
loader keeps the datasets' node features (label one-hot and attributes) as the basic view
(``Constant(1)`` only for IMDB-BINARY/REDDIT-BINARY/COLLAB, which have none);
:func:`feature_view` builds that input from :func:`~molood.graphs.tu.read_tu`'s ``leaf_x``.

:func:`wl_knn_scores` is a training-free floor: k-nearest-neighbour cosine distance on
Weisfeiler–Lehman subtree histograms. numpy at import; scikit-learn when folds are drawn.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import numpy as np

from molood.graphs.arrays import GraphArrays

__all__ = ["ADSplit", "anomaly_labels", "ad_splits", "feature_view", "wl_features",
           "wl_knn_scores"]


@dataclass(frozen=True)
class ADSplit:
    """One trial of the AD protocol (index arrays into the data set, sorted).

    Attributes
    ----------
    fold : int
        Trial number = held-out fold (0-based); the model seed is ``fold + 1``.
    train : ndarray of int64
        Normal graphs of the other folds: the only graphs a method may look at.
    test : ndarray of int64
        Every graph of the held-out fold.
    y_test : ndarray of int64
        1 = anomaly (class 0), 0 = normal, aligned with ``test``.
    """

    fold: int
    train: np.ndarray
    test: np.ndarray
    y_test: np.ndarray

    def __post_init__(self) -> None:
        if np.intersect1d(self.train, self.test).size:
            raise ValueError("AD split leaks: train and test share graphs")
        if self.y_test.shape != self.test.shape:
            raise ValueError("y_test must align with test")


def anomaly_labels(graph_labels: np.ndarray) -> np.ndarray:
    """1 where a graph is of the anomaly class (the smallest label value, PyG's class 0), else 0."""
    labels = np.asarray(graph_labels)
    if labels.size == 0:
        raise ValueError("no graph labels")
    return (labels == labels.min()).astype(np.int64)


def ad_splits(graph_labels: np.ndarray, n_folds: int = 5, random_state: int = 0) -> list[ADSplit]:
    """GOOD-D's anomaly-detection trials (module docstring): one :class:`ADSplit` per fold.

    Folds are ``sklearn.model_selection.StratifiedKFold(n_folds, shuffle=True,
    random_state=random_state)`` on the raw class labels, in data-set order, as in
    ``get_ad_split_TU``; same labels and order give GOOD-D's folds.
    """
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(graph_labels)
    is_anomaly = anomaly_labels(labels)
    kfold = StratifiedKFold(n_splits=int(n_folds), shuffle=True, random_state=random_state)
    out = []
    for t, (tr, te) in enumerate(kfold.split(np.zeros(len(labels)), labels)):
        tr, te = np.sort(tr).astype(np.int64), np.sort(te).astype(np.int64)
        out.append(ADSplit(fold=t, train=tr[is_anomaly[tr] == 0], test=te, y_test=is_anomaly[te]))
    return out


def feature_view(graphs: GraphArrays) -> GraphArrays:
    """The AD basic view: node features = ``leaf_x`` (label one-hot + attributes) instead of
    the constant 1 that :func:`~molood.graphs.tu.read_tu` puts in ``x`` for the OOD pairs.
    A set without node labels or attributes (IMDB-BINARY) keeps its constant column."""
    return GraphArrays(x=np.ascontiguousarray(graphs.leaf_x, dtype=np.float32),
                       leaf_x=graphs.leaf_x, src=graphs.src, dst=graphs.dst,
                       num_nodes=graphs.num_nodes, num_edges=graphs.num_edges)


def _start_colors(graphs: GraphArrays, num_label_columns: int | None) -> list[str]:
    """Initial WL colour per node: its discrete label columns of ``leaf_x`` (no labels: degree)."""
    if num_label_columns:
        lab = graphs.leaf_x[:, :num_label_columns]
        return [f"l{int(i)}" for i in np.argmax(lab, axis=1)]
    return [f"d{int(d)}" for d in graphs.degree]


def wl_features(graphs: GraphArrays, iterations: int = 3,
                num_label_columns: int | None = None) -> list[Counter]:
    """Weisfeiler–Lehman subtree features: per graph, a Counter of colour strings over rounds
    ``0..iterations`` (colours are hashed, so they mean the same thing across graphs).

    ``num_label_columns``: how many leading ``leaf_x`` columns one-hot the node label (the
    start colour); None/0 starts from the node degree (unlabelled sets such as IMDB-BINARY).
    """
    start = _start_colors(graphs, num_label_columns)
    no = graphs.node_offsets
    feats = []
    for b, (n, s, d) in enumerate(graphs.local_edges()):
        colors = start[no[b]:no[b + 1]]
        nbrs: list[list[int]] = [[] for _ in range(n)]
        for u, v in zip(s.tolist(), d.tolist()):
            nbrs[u].append(v)
        hist = Counter(f"0:{c}" for c in colors)
        for r in range(1, iterations + 1):
            colors = [hashlib.blake2b(
                (colors[i] + "|" + ",".join(sorted(colors[j] for j in nbrs[i]))).encode(),
                digest_size=8).hexdigest() for i in range(n)]
            hist.update(f"{r}:{c}" for c in colors)
        feats.append(hist)
    return feats


def _matrix(feats: list[Counter], vocab: dict[str, int]) -> np.ndarray:
    """Row-normalised (L2) dense histogram matrix over ``vocab`` (unknown colours dropped)."""
    m = np.zeros((len(feats), len(vocab)), dtype=np.float64)
    for i, f in enumerate(feats):
        for k, c in f.items():
            j = vocab.get(k)
            if j is not None:
                m[i, j] = c
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms > 0, norms, 1.0)


def wl_knn_scores(train: list[Counter], query: list[Counter], k: int = 5) -> np.ndarray:
    """Anomaly score = mean cosine distance of a query's WL histogram to its ``k`` nearest
    training histograms (vocabulary: colours seen in training). Higher = more anomalous.

    A query colour never seen in training still lowers every similarity (the query's norm
    counts it), so unseen structure raises the score.
    """
    if not train:
        raise ValueError("wl_knn_scores needs at least one training graph")
    vocab: dict[str, int] = {}
    for f in train:
        for key in f:
            vocab.setdefault(key, len(vocab))
    a = _matrix(train, vocab)
    q = np.zeros((len(query), len(vocab)), dtype=np.float64)
    for i, f in enumerate(query):
        total = np.sqrt(sum(c * c for c in f.values())) or 1.0
        for key, c in f.items():
            j = vocab.get(key)
            if j is not None:
                q[i, j] = c / total
    dist = 1.0 - q @ a.T
    kk = min(int(k), len(train))
    return np.sort(dist, axis=1)[:, :kk].mean(axis=1)
