"""Training minibatches and the arrays → tensors plumbing of SEGO."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from molood.detectors.sego.batching import map_row_tiles, minibatches


@given(n=st.integers(0, 400), batch_size=st.integers(1, 130))
def test_minibatches_cover_every_graph_once_without_one_graph_batches(n, batch_size):
    perm = np.random.RandomState(n).permutation(n)
    chunks = minibatches(perm, batch_size)
    np.testing.assert_array_equal(np.concatenate(chunks) if chunks else perm, perm)
    if batch_size > 1 and n > 1:
        assert all(len(c) > 1 for c in chunks)
    assert all(len(c) <= batch_size + 1 for c in chunks)


@pytest.mark.parametrize("n,batch_size,sizes", [(5, 2, [2, 3]), (3, 2, [3]), (129, 128, [129]),
                                                (257, 128, [128, 129]), (4, 2, [2, 2])])
def test_a_trailing_single_graph_joins_the_previous_batch(n, batch_size, sizes):
    chunks = minibatches(np.arange(n), batch_size)
    assert [len(c) for c in chunks] == sizes
    np.testing.assert_array_equal(np.concatenate(chunks), np.arange(n))


def test_map_row_tiles_pads_to_fixed_tiles():
    import torch

    x = torch.arange(10.0).reshape(5, 2)
    seen = []

    def fn(t):
        seen.append(t.shape[0])
        return t * 2

    out = map_row_tiles(fn, x, 4)
    torch.testing.assert_close(out, x * 2)
    assert set(seen) == {4}


def test_budget_epochs_caps_optimiser_steps():
    from molood.detectors.sego.training import budget_epochs

    assert budget_epochs(578, 128, 400, None) == 400          # no cap: FreeSolv as always
    assert budget_epochs(578, 128, 400, 2000) == 400          # 5 steps/epoch fit 2000
    assert budget_epochs(1835, 128, 400, 2000) == 133         # 15 steps/epoch
    assert budget_epochs(1_000_000, 128, 400, 2000) == 1      # at least one epoch
    assert budget_epochs(129, 128, 400, 400) == 400           # 128 + 1: the one-graph batch merges
