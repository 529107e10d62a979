"""SEGO networks: shapes, init, tree child-sum, single-graph / edgeless robustness."""

from __future__ import annotations

import os

os.environ.setdefault("DGLBACKEND", "pytorch")

import dgl  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from molood.detectors.sego.losses import global_infonce, local_infonce  # noqa: E402
from molood.detectors.sego.nets import GINEncoder, SEGONet, TreeEncoder, segment_sum  # noqa: E402


def chain_tree_batch(sizes, k=5):
    """Chain trees (every node its own pass-through ancestor, one root): parents/graph ids."""
    sizes = list(sizes)
    n = sum(sizes)
    gid0 = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    parents = [torch.arange(n) for _ in range(k - 1)] + [gid0.clone()]
    graph_ids = [gid0] * k + [torch.arange(len(sizes))]
    return parents, graph_ids


def toy_batch(sizes, in_dim=9, seed=0):
    """Path graphs of the given sizes (both edge directions), random int features."""
    g = torch.Generator().manual_seed(seed)
    src, dst, off = [], [], 0
    for n in sizes:
        for i in range(n - 1):
            src += [off + i, off + i + 1]
            dst += [off + i + 1, off + i]
        off += n
    graph = dgl.graph((torch.tensor(src, dtype=torch.long), torch.tensor(dst, dtype=torch.long)),
                      num_nodes=off)
    x = torch.randint(0, 5, (off, in_dim), generator=g).float()
    topo = torch.rand(off, 32, generator=g)
    leaf = torch.rand(off, 20, generator=g)
    node_graph = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    return graph, x, topo, leaf, node_graph


def test_gin_shapes_and_sum_readout():
    sizes = [3, 1, 4]
    graph, x, *_, ng = toy_batch(sizes)
    enc = GINEncoder(9, hidden_dim=32, num_layers=5)
    nodes, graphs = enc(graph, x, ng, 3)
    assert nodes.shape == (8, 160) and graphs.shape == (3, 160)
    torch.testing.assert_close(graphs[0], nodes[:3].sum(0))
    torch.testing.assert_close(graphs[1], nodes[3])
    for m in enc.modules():
        if isinstance(m, torch.nn.Linear):
            assert torch.count_nonzero(m.bias) == 0


def test_gin_layer_is_sum_aggregation_eps0():
    graph, x, *_, ng = toy_batch([3])
    enc = GINEncoder(9, hidden_dim=4, num_layers=1)
    nodes, _ = enc(graph, x, ng, 1)
    a = torch.tensor([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=torch.float32)
    expected = torch.relu(enc.convs[0].apply_func((torch.eye(3) + a) @ x))
    torch.testing.assert_close(nodes, expected)


def test_tree_encoder_child_sum_and_readout():
    torch.manual_seed(0)
    enc = TreeEncoder(2, hidden_dim=3, height=2, out_dim=4).eval()
    leaf = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    # one graph: leaves 0,1 -> layer-1 node 0; leaf 2 -> layer-1 node 1; both -> root
    parents = [torch.tensor([0, 0, 1]), torch.tensor([0, 0])]
    gids = [torch.zeros(3, dtype=torch.long), torch.zeros(2, dtype=torch.long),
            torch.zeros(1, dtype=torch.long)]
    z = enc(leaf, parents, gids, 1)
    h1 = enc.layers[0](torch.stack([leaf[0] + leaf[1], leaf[2]]))
    h2 = enc.layers[1](h1.sum(0, keepdim=True))
    expected = enc.proj_head(enc.readout(torch.cat([h1.sum(0), h2[0]])[None]))
    torch.testing.assert_close(z, expected)


def test_tree_encoder_single_graph_train_mode_finite():
    enc = TreeEncoder(20, height=5).train()
    parents, gids = chain_tree_batch([1])
    z = enc(torch.rand(1, 20), parents, gids, 1)
    assert z.shape == (1, 160) and torch.isfinite(z).all()


@pytest.mark.parametrize("sizes", [[1], [1, 1], [3, 1, 5, 2]])
def test_full_forward_and_losses_finite_with_grads(sizes):
    torch.manual_seed(0)
    net = SEGONet(in_dim=9, topo_dim=32, leaf_dim=20).train()
    graph, x, topo, leaf, ng = toy_batch(sizes)
    b = len(sizes)
    out = net(graph, x, topo, ng, b)
    assert out["g_f"].shape == (b, 160) and out["n_s"].shape == (sum(sizes), 160)
    parents, gids = chain_tree_batch(sizes)
    z = net.forward_tree(leaf, parents, gids, b)
    losses = [global_infonce(out["g_f"], out["g_s"]),
              local_infonce(out["n_f"], out["n_s"], ng, torch.tensor(sizes)),
              global_infonce(z, out["g_f"])]
    total = sum(l.mean() for l in losses)
    assert all(torch.isfinite(l).all() for l in losses)
    total.backward()
    for name, p in net.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), name
    if b > 1 and max(sizes) > 1:  # every encoder receives gradient from the full loss
        for prefix in ("encoder_b.", "encoder_t.", "feat_g.", "str_g.", "feat_n.", "str_n.",
                       "tree."):
            grads = [p.grad for n, p in net.named_parameters() if n.startswith(prefix)]
            assert any(g is not None and g.abs().sum() > 0 for g in grads), prefix


def test_view_parameters_exclude_tree():
    net = SEGONet(in_dim=1, topo_dim=32, leaf_dim=12)
    names = {id(p) for p in net.view_parameters()}
    assert all(id(p) not in names for p in net.tree.parameters())
    assert len(names) + len(list(net.tree.parameters())) == len(list(net.parameters()))


def test_segment_sum():
    v = torch.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(segment_sum(v, torch.tensor([1, 1, 0]), 3).numpy(),
                                  [[4, 5], [2, 4], [0, 0]])


# ------------------------------------------------------------------ fast inference
def test_inference_net_matches_forward_and_is_row_independent():
    from molood.detectors.sego.inference import InferenceNet

    torch.manual_seed(0)
    sizes = [1, 2, 5, 9, 17, 3, 30, 4]
    graph, x, topo, _, node_graph = toy_batch(sizes)
    net = SEGONet(in_dim=9).eval()
    with torch.no_grad():
        ref = net(graph, x, topo, node_graph, len(sizes))
    inf = InferenceNet.from_module(net)
    src, dst = graph.edges()
    out = inf(x, topo, src, dst, node_graph, len(sizes))
    for k in ("g_f", "g_s", "n_f", "n_s"):
        assert out[k].dtype == torch.float32
        torch.testing.assert_close(out[k], ref[k], rtol=1e-4, atol=1e-4)
    # graph 4 (17 nodes) alone gives the same bits as inside the batch
    lo, n = sum(sizes[:4]), sizes[4]
    keep = (src >= lo) & (src < lo + n)
    alone = inf(x[lo:lo + n], topo[lo:lo + n], src[keep] - lo, dst[keep] - lo,
                torch.zeros(n, dtype=torch.long), 1)
    assert torch.equal(alone["g_f"][0], out["g_f"][4])
    assert torch.equal(alone["g_s"][0], out["g_s"][4])
    assert torch.equal(alone["n_f"], out["n_f"][lo:lo + n])
    assert torch.equal(alone["n_s"], out["n_s"][lo:lo + n])


def _head_params(dim: int = 160) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    return tuple(torch.randn(*shape, generator=g) * 0.1
                 for shape in [(dim, dim), (dim,), (dim, dim), (dim,)])


@pytest.mark.parametrize("n", [1, 63, 64, 511, 512, 513, 2000])
def test_projection_head_matches_dense_mlp_and_rows_are_independent(n):
    from molood.detectors.sego.inference import NODE_TILE, _Head, _mlp

    p = _head_params()
    head = _Head(p, NODE_TILE)
    x = torch.randn(n + 7, 160, generator=torch.Generator().manual_seed(n))
    with torch.inference_mode():
        out = head(x[:n])
        torch.testing.assert_close(out, _mlp(x[:n], p), rtol=1e-5, atol=1e-5)
        shifted = head(x[7:n + 7])  # the same rows at other positions, with other neighbours
    overlap = max(n - 7, 0)
    assert out.shape == (n, 160)
    assert torch.equal(out[7:], shifted[:overlap])


def test_projection_head_hands_onednn_only_whole_tiles():
    """oneDNN compiles and caches one kernel per input shape: a head fed every row count
    directly grew a worker by ~1.5 MB per batch. Only whole tiles may reach it."""
    from molood.detectors.sego.inference import _Head

    head = _Head(_head_params(), 128)
    if head._linear is None:
        pytest.skip("torch without oneDNN")
    seen = []
    real = head._linear

    def spy(x, *args):
        seen.append(tuple(x.shape))
        return real(x, *args)

    head._linear = spy
    with torch.inference_mode():
        for n in (1, 5, 127, 128, 129, 300, 1000):
            head(torch.randn(n, 160))
    assert seen and {s[0] for s in seen} == {128}


def test_projection_head_pickles():
    import pickle

    from molood.detectors.sego.inference import GRAPH_TILE, _Head

    head = _Head(_head_params(), GRAPH_TILE)
    x = torch.randn(10, 160)
    with torch.inference_mode():
        assert torch.equal(pickle.loads(pickle.dumps(head))(x), head(x))
