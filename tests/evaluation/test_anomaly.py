"""molood.evaluation.anomaly: GOOD-D's AD protocol (splits, anomaly class) and the WL-kNN floor."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from molood.evaluation.anomaly import (
    ADSplit,
    ad_splits,
    anomaly_labels,
    feature_view,
    wl_features,
    wl_knn_scores,
)
from molood.graphs.arrays import GraphArrays

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("MOLOOD_SHARED_DATA", REPO / ".." / "shared" / "data"))


def test_anomaly_class_is_the_smallest_label():
    assert anomaly_labels(np.array([-1, 1, 1, -1])).tolist() == [1, 0, 0, 1]
    assert anomaly_labels(np.array([3, 1, 2, 1])).tolist() == [0, 1, 0, 1]


def test_splits_follow_the_protocol():
    pytest.importorskip("sklearn")
    labels = np.repeat(np.arange(1, 7), 100)  # ENZYMES-like: 6 classes of 100
    splits = ad_splits(labels)
    assert len(splits) == 5
    tests = np.concatenate([s.test for s in splits])
    assert sorted(tests.tolist()) == list(range(600))  # the folds partition the set
    for s in splits:
        assert (len(s.train), len(s.test), int(s.y_test.sum())) == (400, 120, 20)  # GOOD-D README
        assert not np.intersect1d(s.train, s.test).size
        assert (labels[s.train] != 1).all()            # only normal graphs are trained on
        assert (s.y_test == (labels[s.test] == 1)).all()
    again = ad_splits(labels)
    assert all((a.test == b.test).all() for a, b in zip(splits, again))  # random_state=0


def test_split_refuses_leaks():
    with pytest.raises(ValueError, match="leaks"):
        ADSplit(0, np.array([1, 2]), np.array([2, 3]), np.array([0, 1]))


def _path_and_star() -> GraphArrays:
    # graph 0: path a-b-c; graph 1: star centre + 3 leaves; graph 2: another path
    graphs = [(3, [(0, 1), (1, 2)]), (4, [(0, 1), (0, 2), (0, 3)]), (3, [(0, 1), (1, 2)])]
    return GraphArrays.from_graphs(graphs)


def test_wl_knn_ranks_the_odd_graph_highest():
    ga = _path_and_star()
    feats = wl_features(ga, iterations=2)
    assert feats[0] == feats[2] and feats[0] != feats[1]
    train = [feats[0], feats[2]]
    scores = wl_knn_scores(train, feats, k=1)
    assert scores[0] == pytest.approx(0.0) and scores[1] > 0.5


def test_feature_view_uses_leaf_features():
    ga = _path_and_star()
    fv = feature_view(ga)
    assert fv.x.dtype == np.float32 and fv.x.shape == ga.leaf_x.shape


@pytest.mark.skipif(not (SHARED / "tu" / "BZR").exists(), reason="shared TU data not available")
def test_bzr_sizes_match_goodd():
    pytest.importorskip("sklearn")
    from molood.graphs.tu import read_tu

    _, labels = read_tu(SHARED / "tu", "BZR")
    s = ad_splits(labels)[0]
    assert (len(s.train), len(s.test)) == (69, 81)
