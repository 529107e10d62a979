"""molood.evaluation.splits: one seeded split per trial, and the authors' leaky double draw."""

from __future__ import annotations

import numpy as np
import pytest

from molood.evaluation.splits import leaky_split, paper_split


@pytest.mark.parametrize("n", [2, 10, 642, 1128, 7823])
def test_split_sizes_disjoint_cover(n):
    s = paper_split(n, seed=1)
    n_fit = int(n * 0.9)
    assert len(s.id_test) == n - n_fit
    assert len(s.cal) == int(n_fit * 0.1) and len(s.train) == n_fit - len(s.cal)
    allidx = np.concatenate([s.train, s.cal, s.id_test])
    assert len(np.unique(allidx)) == len(allidx) == n      # disjoint and covering
    assert set(allidx.tolist()) == set(range(n))
    for a in (s.train, s.cal, s.id_test):
        assert a.dtype == np.int64 and np.all(np.diff(a) > 0)
    np.testing.assert_array_equal(s.fit, np.sort(np.concatenate([s.train, s.cal])))
    assert not set(s.fit.tolist()) & set(s.id_test.tolist())


def test_split_reproducible_and_seed_dependent():
    a, b, c = paper_split(1000, 3), paper_split(1000, 3), paper_split(1000, 4)
    for x, y in [(a.train, b.train), (a.cal, b.cal), (a.id_test, b.id_test)]:
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.id_test, c.id_test)
    tests = {tuple(paper_split(500, s).id_test) for s in range(1, 6)}
    assert len(tests) == 5


def test_split_rejects_bad_input():
    with pytest.raises(ValueError):
        paper_split(1, 0)
    with pytest.raises(ValueError):
        paper_split(10, 0, train_frac=1.0)


def test_leaky_split_reproduces_the_double_draw():
    """Ablation split: same training part as paper_split, ID test mostly inside training."""
    clean, leaky = paper_split(1000, 3), leaky_split(1000, 3)
    np.testing.assert_array_equal(leaky.train, clean.train)
    np.testing.assert_array_equal(leaky.cal, clean.cal)
    assert len(leaky.id_test) == len(clean.id_test) == 100
    assert not np.intersect1d(clean.id_test, clean.fit).size
    seen = np.isin(leaky.id_test, leaky.fit).mean()
    assert 0.8 <= seen <= 0.97  # ~90% of the "test" molecules were trained on
