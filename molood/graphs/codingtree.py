"""Structural-entropy coding trees (SEGO's "anchor view"): the builder and the entropy it lowers.

A faithful port of the builder the SEGO authors actually run (``codingTree.py``, mode "v2",
design note ``sego_method.md`` §1.3): a greedy MERGE phase with the +1-smoothed Δ_merge
priority, DROP down to height 2, balancing with pass-through nodes, then LEAF-UP / ROOT-DOWN
until the tree has height ``k``, and the reference's canonical layer order (height, then
creation id). The algorithm, its tie-breaking and its id allocation are reproduced; the data
structures are not: cut volumes between communities are kept incrementally in dicts of
community-pair weights (``cut(A∪B, C) = cut(A, C) + cut(B, C)``), DROP uses a lazily
invalidated heap instead of rescanning it, and no dense adjacency or deepcopy is used. A tree
of a molecule-like graph costs about O(m log n) instead of O(n^2)-O(n^3) (every golden
reference tree is reproduced bit for bit, ~10x faster than the reference with numba). Like the
reference, each merge re-prices every neighbour of the new community, so hub-heavy graphs
(a star) still cost O(n * max degree * log n).

Graphs are undirected multigraphs: every listed pair ``(i, j)`` adds weight 1 between i and j
(a pair listed twice, in either orientation, is a double edge, as in the reference's dense
adjacency sum); self-loops are ignored. The reference crashes on a single node and on edgeless
graphs with n >= 3; those get the chain tree ``[n, n, ..., n, 1]`` here.

Why one module of ~500 lines: it holds one concept, the reference's single tree-building
procedure. Its phases (MERGE/DROP in ``_Builder._build_k``, LEAF-UP, ROOT-DOWN, the canonical
layer order) share the ``_Node`` records, the id counter whose allocation order decides the
bit-identical output, and the reference's quirks noted inline; split over files, each part
would only make sense next to the others. :func:`structural_entropy` is the objective the
builder lowers and documents what a tree means. Building many trees (deduplication, caching,
parallel workers) and batching them live in :mod:`molood.graphs.trees`.

numpy only (it runs inside worker processes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from heapq import heapify, heappop, heappush

import numpy as np

from molood.graphs.arrays import GraphArrays

__all__ = ["CodingTree", "build_coding_tree", "edge_array", "structural_entropy"]

_log2 = math.log2


@dataclass(frozen=True, eq=False)
class CodingTree:
    """A balanced coding tree of height k over the nodes of one graph.

    Attributes
    ----------
    layer_sizes : tuple of int, length k+1
        Nodes per layer: layer 0 = the graph's nodes in input order, layer k = the root (size 1).
    parents : tuple of ndarray of int64, length k
        ``parents[l-1][c]`` = index in layer l of the parent of node c of layer l-1; shape
        ``[layer_sizes[l-1]]``. Every node of layer l >= 1 has at least one child.

    Examples
    --------
    >>> build_coding_tree(2, [(0, 1)], k=3)
    CodingTree(layer_sizes=(2, 2, 2, 1), parents=([0, 1], [0, 1], [0, 0]))
    """

    layer_sizes: tuple[int, ...]
    parents: tuple[np.ndarray, ...]

    @property
    def k(self) -> int:
        """Height of the tree (number of parent arrays)."""
        return len(self.parents)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CodingTree):
            return NotImplemented
        return self.layer_sizes == other.layer_sizes and all(
            np.array_equal(a, b) for a, b in zip(self.parents, other.parents))

    __hash__ = None  # type: ignore[assignment]  # holds mutable arrays

    def __repr__(self) -> str:
        return (f"CodingTree(layer_sizes={self.layer_sizes}, "
                f"parents=({', '.join(str(p.tolist()) for p in self.parents)}))")


# ---------------------------------------------------------------------------------- input
def edge_array(num_nodes: int, edges) -> np.ndarray:
    """The graph as every function here sees it: validated, int64 [m, 2], self-loops dropped.

    Raises ``ValueError`` for ``num_nodes < 1``, a wrong shape or endpoints outside
    ``0..num_nodes-1``. :func:`molood.graphs.trees.graph_key` hashes this same array, so two
    graphs with equal keys get equal trees.
    """
    if int(num_nodes) < 1:
        raise ValueError(f"a coding tree needs num_nodes >= 1, got {num_nodes}")
    e = np.asarray(edges if isinstance(edges, np.ndarray) else list(edges), dtype=np.int64)
    if e.size == 0:
        e = e.reshape(0, 2)
    if e.ndim != 2 or e.shape[1] != 2:
        raise ValueError(f"edges must have shape [m, 2], got {e.shape}")
    if e.size and (e.min() < 0 or e.max() >= num_nodes):
        raise ValueError(f"edge endpoints must lie in 0..{num_nodes - 1}, "
                         f"got {e.min()}..{e.max()}")
    return e[e[:, 0] != e[:, 1]]


def _neighbours(num_nodes: int, edges) -> list[dict[int, int]]:
    """Weighted adjacency dicts ``nbr[i] = {j: multiplicity}`` (self-loops dropped)."""
    nbr: list[dict[int, int]] = [{} for _ in range(int(num_nodes))]
    for i, j in edge_array(num_nodes, edges).tolist():
        a, b = nbr[i], nbr[j]
        a[j] = a.get(j, 0) + 1
        b[i] = b.get(i, 0) + 1
    return nbr


# ---------------------------------------------------------------------------------- builder
class _Node:
    # Mirrors the reference's PartitionTreeNode; ``h`` is its child_h, ``ccut`` its child_cut.
    __slots__ = ("ccut", "children", "g", "h", "merged", "parent", "part", "vol")

    def __init__(self, part, vol, g, children=None, parent=None, h=0, ccut=0):
        self.part = part
        self.vol = vol
        self.g = g
        self.children = children
        self.parent = parent
        self.h = h
        self.ccut = ccut
        self.merged = False


def _combine_delta(n1: _Node, n2: _Node, cut, W) -> float:
    v1 = n1.vol + 1
    v2 = n2.vol + 1
    v12 = v1 + v2
    return ((v1 - n1.g - 1) * _log2(v12 / v1) + (v2 - n2.g - 1) * _log2(v12 / v2)
            - 2 * cut * _log2(W / v12)) / W


def _compress_delta(node: _Node, parent: _Node) -> float:
    return node.ccut * _log2((parent.vol + 1) / (node.vol + 1))


def _depth(nodes: dict, nid: int) -> int:
    """Ancestors of nid plus its height (the reference's child_tree_deepth)."""
    node = nodes[nid]
    d = node.h
    p = node.parent
    while p is not None:
        d += 1
        p = nodes[p].parent
    return d


class _Builder:
    """One run of the reference's PartitionTreeV2.build_encoding_tree(k, 'v2')."""

    def __init__(self, nbr: list[dict[int, int]]) -> None:
        self.n = n = len(nbr)
        self.nbr = nbr
        deg = [sum(a.values()) for a in nbr]
        self.VOL = sum(deg)
        self.tree = {i: _Node([i], deg[i], deg[i]) for i in range(n)}
        self.next_id = n

    def _new_id(self) -> int:
        i = self.next_id
        self.next_id = i + 1
        return i

    # ---- MERGE + DROP on a (super-)node graph; adj[id] = {neighbour id: cut weight}, consumed.
    def _build_k(self, W, nodes: dict, adj: dict, k: int = 2) -> int:
        heap = [(_combine_delta(nodes[i], nodes[j], c, W), i, j, c)
                for i, a in adj.items() for j, c in a.items() if j > i]
        heapify(heap)
        cmp_heap: list = []
        unmerged = len(nodes)
        new_id = None
        while unmerged > 1 and heap:
            _, a, b, c = heappop(heap)
            na, nb = nodes[a], nodes[b]
            if na.merged or nb.merged:
                continue
            na.merged = nb.merged = True
            new_id = self._new_id()
            ng = _Node(na.part + nb.part, na.vol + nb.vol, na.g + nb.g - 2 * c, {a, b}, None,
                       max(na.h, nb.h) + 1, c)
            na.parent = nb.parent = new_id
            nodes[new_id] = ng
            if na.h > 0:
                heappush(cmp_heap, (_compress_delta(na, ng), a, new_id))
            if nb.h > 0:
                heappush(cmp_heap, (_compress_delta(nb, ng), b, new_id))
            unmerged -= 1
            da, db = adj.pop(a), adj.pop(b)
            del da[b], db[a]
            if len(da) < len(db):
                da, db = db, da
            for y, w in db.items():
                da[y] = da.get(y, 0) + w
            # _combine_delta(nodes[y], ng, w, W) inlined (hot loop), same float operations
            v2 = ng.vol + 1
            t2 = v2 - ng.g - 1
            for y, w in da.items():
                ay = adj[y]
                ay.pop(a, None)
                ay.pop(b, None)
                ay[new_id] = w
                ny = nodes[y]
                v1 = ny.vol + 1
                v12 = v1 + v2
                heappush(heap, (((v1 - ny.g - 1) * _log2(v12 / v1) + t2 * _log2(v12 / v2)
                                 - 2 * w * _log2(W / v12)) / W, y, new_id, w))
            adj[new_id] = da
        root = new_id
        if unmerged > 1:  # several components / isolated nodes: one common root
            unm = {i for i, nd in nodes.items() if not nd.merged}
            root = self._new_id()
            rn = _Node(list(nodes), W, 0, unm, None, max(nodes[i].h for i in unm) + 1, 0)
            nodes[root] = rn
            for i in unm:
                ni = nodes[i]
                ni.merged = True
                ni.parent = root
                if ni.h > 0:
                    heappush(cmp_heap, (_compress_delta(ni, rn), i, root))
        # DROP: the reference re-costs the moved entries in place and re-heapifies; pushing
        # fresh entries and discarding outdated ones on pop gives the same pop order.
        rootn = nodes[root]
        while rootn.h > k:
            cost, x, p = heappop(cmp_heap)
            nx = nodes.get(x)
            if nx is None or nx.parent != p or cost != _compress_delta(nx, nodes[p]):
                continue
            if _depth(nodes, x) <= k:
                continue
            np_ = nodes[p]
            p_h = np_.h
            np_.ccut += nx.ccut
            ch = np_.children
            ch.remove(x)
            np_.children = ch.union(nx.children)
            for c in nx.children:
                nodes[c].parent = p
            del nodes[x]
            if p_h - nx.h == 1:
                q = p
                while q is not None:
                    nq = nodes[q]
                    mh = max([nodes[c].h for c in nq.children]) + 1
                    if nq.h == mh:
                        break
                    nq.h = mh
                    q = nq.parent
            if rootn.h == k:
                break
            if np_.parent is not None and _depth(nodes, p) > k:
                heappush(cmp_heap, (_compress_delta(np_, nodes[np_.parent]), p, np_.parent))
            for c in nx.children:
                nc = nodes[c]
                if nc.h > 0 and _depth(nodes, c) > k:
                    heappush(cmp_heap, (_compress_delta(nc, np_), c, p))
        return root

    def _single_up(self, nodes: dict, c: int) -> None:
        nc = nodes[c]
        p = nc.parent
        new = self._new_id()
        nodes[new] = _Node(nc.part, nc.vol, nc.g, {c}, p, nc.h + 1)
        nc.parent = new
        pc = nodes[p].children
        pc.remove(c)
        pc.add(new)

    def _check_balance(self, nodes: dict, root: int) -> None:
        # set(list(s)) is what the reference's deepcopy(set) yields; its order decides the ids.
        for c in set(list(nodes[root].children)):  # noqa: C414
            if nodes[c].h == 0:
                self._single_up(nodes, c)

    # ---- LEAF-UP: split every height-1 cluster of >= 3 leaves by a height-2 sub-build.
    def _leaf_up(self):
        tree, VOL, nbr = self.tree, self.VOL, self.nbr
        h1 = set()
        for leaf in range(self.n):
            h1.add(tree[leaf].parent)
        delta = 0
        mapping: dict = {}
        subs: dict = {}
        for cid in h1:
            cand = tree[cid]
            part = cand.part
            if len(part) < 3:
                mapping[cid] = None
                continue
            pv1 = cand.vol + 1
            inside = set(part)
            sub, adj = {}, {}
            ori = 0
            for v in part:
                tv = tree[v]
                ori += -(tv.g / VOL) * _log2((tv.vol + 1) / pv1)
                a = {u: w for u, w in nbr[v].items() if u in inside}
                s = sum(a.values())
                sub[v] = _Node([v], s, s)
                adj[v] = a
            sroot = self._build_k(cand.vol - cand.g, sub, adj)
            self._check_balance(sub, sroot)
            delta += ori - self._leaf_up_entropy(sub, sroot, cand)
            subs[cid] = sub
            mapping[cid] = sroot
        return delta / self.n, mapping, subs

    def _leaf_up_entropy(self, sub: dict, sroot: int, cand: _Node) -> float:
        tree, VOL = self.tree, self.VOL
        rn = sub[sroot]
        rn.vol, rn.g = cand.vol, cand.g
        ent = 0
        queue = [sroot]
        for nid in queue:  # breadth first, children in set order (the reference's LayerFirst)
            node = sub[nid]
            if nid != sroot:
                if node.h == 1:
                    inner = node.vol - node.g
                    node.vol = sum(tree[i].vol for i in node.part)
                    node.g = node.vol - inner
                else:
                    t = tree[nid]
                    node.g, node.vol = t.g, t.vol
                ent += -(node.g / VOL) * _log2((node.vol + 1) / (sub[node.parent].vol + 1))
            if node.children:
                queue.extend(node.children)
        return ent

    def _leaf_up_update(self, mapping: dict, subs: dict) -> None:
        tree = self.tree
        for cid, sroot in mapping.items():
            if sroot is None:
                for c in set(list(tree[cid].children)):  # noqa: C414
                    self._single_up(tree, c)
            else:
                sub = subs[cid]
                ch = sub.pop(sroot).children
                tree[cid].children = ch
                for c in ch:
                    sub[c].parent = cid
                tree.update(sub)
        tree[self.root].h += 1

    # ---- ROOT-DOWN: group the root's children by a height-2 build over them.
    def _root_down(self):
        tree, root = self.tree, self.root
        rc = tree[root].children
        if len(rc) < 3:
            return 0, None, None
        W = tree[root].vol
        sub, owner = {}, {}
        ori = 0
        for x in rc:
            nx = tree[x]
            ori += -(nx.g / W) * _log2((nx.vol + 1) / W)  # the reference's unsmoothed-W quirk
            sub[x] = _Node(nx.part, nx.vol, nx.g, nx.children)
            for v in nx.part:
                owner[v] = x
        adj: dict = {x: {} for x in sub}
        for u, a in enumerate(self.nbr):
            ou = owner[u]
            for v, w in a.items():
                ov = owner[v]
                if v > u and ou != ov:
                    au, av = adj[ou], adj[ov]
                    au[ov] = au.get(ov, 0) + w
                    av[ou] = av.get(ou, 0) + w
        sroot = self._build_k(W, sub, adj)
        self._check_balance(sub, sroot)
        VOL = self.VOL
        new = 0
        for node in sub.values():
            if node.parent is not None:
                new += -(node.g / VOL) * _log2((node.vol + 1) / (sub[node.parent].vol + 1))
        return (ori - new) / len(rc), sroot, sub

    def _root_down_update(self, sroot: int, sub: dict) -> None:
        tree, root = self.tree, self.root
        ch = sub.pop(sroot).children
        tree[root].children = ch
        for c in ch:
            sub[c].parent = root
        tree.update(sub)
        tree[root].h += 1

    def build(self, k: int) -> tuple[int, dict]:
        tree = self.tree
        adj = {i: dict(a) for i, a in enumerate(self.nbr)}
        self.root = root = self._build_k(self.VOL, tree, adj)
        self._check_balance(tree, root)
        tree[root].h = max(tree[root].h, 2)
        flag = 0
        lu = rd = None
        while tree[root].h < k:
            if flag != 2:
                lu = self._leaf_up()
            if flag != 1:
                rd = self._root_down()
            if lu[0] < rd[0]:
                flag = 2
                self._root_down_update(rd[1], rd[2])
            else:
                flag = 1
                self._leaf_up_update(lu[1], lu[2])
                if rd[0] != 0:  # the reference refreshes its cached ROOT-DOWN leaves
                    for rid, rnode in rd[2].items():
                        if rnode.h == 0:
                            rnode.children = tree[rid].children
        return root, tree


def _canonical(root: int, tree: dict, n: int, k: int) -> CodingTree:
    """Layers by height (balanced: height = k - depth), ids sorted inside each layer."""
    layers: list[list[int]] = [[] for _ in range(k + 1)]
    frontier = [root]
    for depth in range(k + 1):
        layers[k - depth] = sorted(frontier)
        if depth < k:
            nxt = []
            for x in frontier:
                ch = tree[x].children
                if not ch:
                    raise AssertionError("coding tree is not balanced")  # pragma: no cover
                nxt.extend(ch)
            frontier = nxt
    if layers[0] != list(range(n)):
        raise AssertionError("coding tree leaves are not the graph nodes")  # pragma: no cover
    parents = []
    for lay in range(1, k + 1):
        index = {x: i for i, x in enumerate(layers[lay])}
        parents.append(np.fromiter((index[tree[c].parent] for c in layers[lay - 1]),
                                   dtype=np.int64, count=len(layers[lay - 1])))
    return CodingTree(tuple(len(x) for x in layers), tuple(parents))


def _chain_tree(n: int, k: int) -> CodingTree:
    return CodingTree((n,) * k + (1,), tuple(
        [np.arange(n, dtype=np.int64) for _ in range(k - 1)] + [np.zeros(n, np.int64)]))


def build_coding_tree(num_nodes: int, edges, k: int = 5) -> CodingTree:
    """Build the height-k coding tree of one graph with the SEGO reference algorithm.

    Parameters
    ----------
    num_nodes : int
        Number of graph nodes n >= 1 (atoms); they form layer 0 in this order.
    edges : array-like of int, shape [m, 2]
        Undirected pairs (i, j); a repeated pair (either orientation) is a multi-edge, i == j
        is ignored.
    k : int, default 5
        Tree height (>= 1).

    Returns
    -------
    CodingTree
        Deterministic for a given input. A single node, or a graph without edges, gets the
        chain tree ``[n, ..., n, 1]`` (the reference crashes there, except edgeless n = 2, where
        it gives the same chain).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    nbr = _neighbours(num_nodes, edges)
    n = len(nbr)
    if k == 1:
        return CodingTree((n, 1), (np.zeros(n, np.int64),))
    if not any(nbr):
        return _chain_tree(n, k)
    root, tree = _Builder(nbr).build(k)
    return _canonical(root, tree, n, k)


def structural_entropy(tree: CodingTree, num_nodes: int, edges) -> float:
    """Unsmoothed structural entropy of ``tree`` on the graph, in bits.

    ``H = - sum over non-root nodes a of (g_a / VOL) * log2(vol_a / vol_parent(a))``, with d_i
    the (multi-)degree, VOL = sum d_i = 2m, vol_a = sum of d_i over the leaves of a, and g_a the
    number of edges with exactly one endpoint among those leaves. Terms with g_a = 0 are 0;
    pass-through nodes contribute log2(1) = 0. VOL = 0 gives 0.0.

    Parameters
    ----------
    tree : CodingTree
    num_nodes : int
    edges : array-like of int, shape [m, 2]
        Same conventions as :func:`build_coding_tree`.

    Returns
    -------
    float
    """
    e = edge_array(num_nodes, edges)
    n = int(num_nodes)
    if tree.layer_sizes[0] != n:
        raise ValueError(f"tree has {tree.layer_sizes[0]} leaves, graph has {n} nodes")
    ga = GraphArrays.from_graphs([(n, e)])  # both directions of every edge, and the degrees
    src, dst = ga.src, ga.dst
    deg = ga.degree.astype(np.float64)
    VOL = deg.sum()
    if VOL == 0:
        return 0.0
    owner = np.arange(n)
    vol = deg
    g = deg.copy()
    total = 0.0
    for lay in range(1, tree.k + 1):
        par = tree.parents[lay - 1]
        pvol = np.bincount(par, weights=vol, minlength=tree.layer_sizes[lay])
        terms = np.zeros(len(par))
        m = g > 0
        terms[m] = -(g[m] / VOL) * np.log2(vol[m] / pvol[par[m]])
        total += float(np.sum(terms))
        owner = par[owner]
        cross = owner[src] != owner[dst]
        g = np.bincount(owner[src][cross], minlength=tree.layer_sizes[lay]).astype(np.float64)
        vol = pvol
    return total
