"""Reader for graph sets in the TU text format (TUDataset collection) into :class:`GraphArrays`.

A TU dataset ``NAME`` is a folder of plain text files (Morris et al., 2020):

- ``NAME_A.txt``: one ``row, col`` line per directed edge, 1-based global node ids;
- ``NAME_graph_indicator.txt``: the (1-based) graph id of every node;
- ``NAME_graph_labels.txt``: one class label per graph;
- optional ``NAME_node_labels.txt`` (integer label per node, one or more columns) and
  ``NAME_node_attributes.txt`` (comma-separated floats per node).

What :func:`read_tu` builds (SEGO spec §2):

- ``x``: the basic view, a constant ``1`` per node (float32 ``[N, 1]``), as in the authors' code
  (``torch_geometric.transforms.Constant(1, cat=False)``).
- ``leaf_x``: the tree-leaf input, float32 ``[N, L + A]``: the one-hot of the node label (label
  values remapped to ``0..L-1`` in sorted order of the label vocabulary) followed by the ``A``
  continuous node attributes, if the dataset has any. A dataset without node labels and without
  attributes gets ``ones [N, 1]``. (The authors' code computes the leaf input from PyG's raw ``x``
  before the constant transform, i.e. attributes and label one-hot; PyG puts the attributes first
  and one-hots ``label - min(label)``, so its width can include never-used label columns; we put
  labels first and use only the values that occur. Column order does not matter to the model.)
- ``src/dst``: every undirected edge once per direction. Repeated lines (IMDB lists every edge
  twice) are merged, self-loops dropped, a missing reverse direction added. Edges are sorted by
  ``(src, dst)``, which groups them by graph.

ID/OOD pairs must give both sets the same ``leaf_x`` width. :func:`read_tu_pair` (or passing the
same ``label_vocab`` and ``num_attributes`` to :func:`read_tu` for both) one-hots both sets over the
**union** of their label values and zero-pads the attributes to the larger attribute width. The
zero columns do not change anything the ID side computes (a zero input column contributes
nothing through a linear layer). Note that TU label codes are dataset-specific: BZR, COX2 and
DHFR use atomic numbers (union columns mean the same element), but PTC_MR/MUTAG and AIDS use
their own element tables and ENZYMES (1..3) / PROTEINS (0..2) encode the same three SSE types
with an offset, so a shared column there is a shared *width*, not a shared meaning. (The authors'
code never aligns them: the OOD trees are built but never read.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from molood.graphs.arrays import GraphArrays
from molood.graphs.features import one_hot

__all__ = ["read_tu", "read_tu_pair", "tu_label_vocab", "tu_num_attributes"]


def _file(root: str | Path, name: str, suffix: str) -> Path:
    return Path(root) / name / f"{name}_{suffix}.txt"


def _read_table(path: Path, dtype: type, empty_cols: int) -> np.ndarray:
    """All numbers of a comma/whitespace-separated text file, row-major, as [rows, cols]."""
    text = path.read_text()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return np.zeros((0, empty_cols), dtype=dtype)
    ncol = len(lines[0].replace(",", " ").split())
    flat = np.array(text.replace(",", " ").split(), dtype=dtype)
    if flat.size != len(lines) * ncol:
        raise ValueError(f"{path}: rows do not all have {ncol} columns")
    return flat.reshape(len(lines), ncol)


def _read_ints(path: Path) -> np.ndarray:
    """Integer table of a TU text file, int64 [rows, cols] ([0, 1] when empty)."""
    return _read_table(path, np.int64, empty_cols=1)


def _read_floats(path: Path) -> np.ndarray:
    """Attribute table of a TU text file, float32 [rows, cols] ([0, 0] when empty)."""
    return _read_table(path, np.float64, empty_cols=0).astype(np.float32)


def _vocab(labels: np.ndarray) -> list[np.ndarray]:
    """Sorted distinct values of each column of a label table."""
    return [np.unique(labels[:, j]) for j in range(labels.shape[1])]


def tu_label_vocab(root: str | Path, name: str) -> list[np.ndarray] | None:
    """Sorted distinct node-label values per label column, or ``None`` if the set has no labels."""
    path = _file(root, name, "node_labels")
    if not path.exists():
        return None
    return _vocab(_read_ints(path))


def tu_num_attributes(root: str | Path, name: str) -> int:
    """Number of continuous node-attribute columns (0 if there is no attribute file)."""
    path = _file(root, name, "node_attributes")
    if not path.exists():
        return 0
    with path.open() as fh:
        for line in fh:
            if line.strip():
                return len(line.replace(",", " ").split())
    return 0


def read_tu(
    root: str | Path,
    name: str,
    *,
    label_vocab: Sequence[np.ndarray] | None = None,
    num_attributes: int | None = None,
    use_attributes: bool = True,
) -> tuple[GraphArrays, np.ndarray]:
    """Read TU dataset ``root/name/name_*.txt`` into a :class:`GraphArrays` and its graph labels.

    Parameters
    ----------
    root : str or Path
        Folder that holds the dataset folder ``name``.
    name : str
        Dataset name, e.g. ``"BZR"`` or ``"IMDB-BINARY"``.
    label_vocab : sequence of 1-D int arrays, optional
        Label values to one-hot over, one array per node-label column (sorted; values not in it
        raise ``ValueError``). Default: the distinct values of this dataset
        (:func:`tu_label_vocab`). Pass a shared vocabulary to align two datasets.
    num_attributes : int, optional
        Width to zero-pad the continuous attributes to (must be ≥ the dataset's own width).
        Default: the dataset's own width.
    use_attributes : bool, default True
        Append the continuous node attributes to ``leaf_x`` (spec §2).

    Returns
    -------
    graphs : GraphArrays
        ``x`` float32 [N, 1] of ones; ``leaf_x`` float32 [N, L + A]; symmetric ``src/dst``.
    graph_labels : ndarray of int64, shape [B]
        Class labels as written in ``name_graph_labels.txt``.
    """
    graph_labels, indicator = _read_graph_index(root, name)
    n, n_graphs = len(indicator), len(graph_labels)
    num_nodes = np.bincount(indicator, minlength=n_graphs).astype(np.int64)
    order, new_id = _group_nodes(indicator)
    leaf_x = _leaf_x(root, name, n, label_vocab, use_attributes, num_attributes)
    if order is not None:
        leaf_x = leaf_x[order]
    node_graph = np.repeat(np.arange(n_graphs, dtype=np.int64), num_nodes)
    src, dst = _symmetric_edges(*_read_edges(root, name, new_id, node_graph), n)
    num_edges = np.bincount(node_graph[src], minlength=n_graphs).astype(np.int64)
    graphs = GraphArrays(
        x=np.ones((n, 1), dtype=np.float32), leaf_x=leaf_x, src=src, dst=dst,
        num_nodes=num_nodes, num_edges=num_edges,
    )
    return graphs, graph_labels


def _read_graph_index(root: str | Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(graph labels int64 [B], 0-based graph id of every node int64 [N]), validated."""
    ind_path = _file(root, name, "graph_indicator")
    if not ind_path.exists():
        raise FileNotFoundError(f"TU dataset {name!r} not found: {ind_path} is missing")
    graph_labels = _read_ints(_file(root, name, "graph_labels"))[:, 0]
    indicator = _read_ints(ind_path)[:, 0] - 1
    n_graphs = len(graph_labels)
    if len(indicator) and (indicator.min() < 0 or indicator.max() >= n_graphs):
        raise ValueError(f"{ind_path}: graph ids outside 1..{n_graphs}")
    return graph_labels, indicator


def _group_nodes(indicator: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Nodes must be grouped by graph; TU files are, but one that is not is reordered stably.

    Returns ``(order, new_id)``: ``order`` (file rows in graph order) is ``None`` when the file
    is already grouped; ``new_id[file_row]`` is the node's position in the grouped order.
    """
    n = len(indicator)
    new_id = np.arange(n, dtype=np.int64)
    if not (n and np.any(np.diff(indicator) < 0)):
        return None, new_id
    order = np.argsort(indicator, kind="stable")
    new_id[order] = np.arange(n)
    return order, new_id


def _leaf_x(root: str | Path, name: str, n: int, label_vocab: Sequence[np.ndarray] | None,
            use_attributes: bool, num_attributes: int | None) -> np.ndarray:
    """float32 [n, L + A] in file row order: label one-hot ‖ attributes, or ones [n, 1]."""
    blocks = _label_blocks(root, name, n, label_vocab)
    if use_attributes:
        blocks += _attribute_blocks(root, name, n, num_attributes)
    if not blocks or sum(b.shape[1] for b in blocks) == 0:  # neither labels nor attributes
        return np.ones((n, 1), dtype=np.float32)
    return np.concatenate(blocks, axis=1)


def _label_blocks(root: str | Path, name: str, n: int,
                  label_vocab: Sequence[np.ndarray] | None) -> list[np.ndarray]:
    """One float32 one-hot block [n, len(vocab)] per node-label column (file row order).

    Without a label file: no block, or all-zero blocks when aligned with a labelled partner
    through ``label_vocab`` (this set simply uses none of the label columns).
    """
    lab_path = _file(root, name, "node_labels")
    if not lab_path.exists():
        vocab = label_vocab if label_vocab is not None else []
        return [np.zeros((n, len(v)), dtype=np.float32) for v in vocab]
    labels = _read_ints(lab_path)
    if labels.shape[0] != n:
        raise ValueError(f"{lab_path}: {labels.shape[0]} rows for {n} nodes")
    vocab = label_vocab if label_vocab is not None else _vocab(labels)
    if len(vocab) != labels.shape[1]:
        raise ValueError(f"label_vocab has {len(vocab)} columns, {lab_path} has {labels.shape[1]}")
    blocks = []
    for j, voc in enumerate(vocab):
        voc = np.asarray(voc, dtype=np.int64)
        pos = np.searchsorted(voc, labels[:, j])
        bad = (pos >= len(voc)) | (voc[np.minimum(pos, len(voc) - 1)] != labels[:, j])
        if bad.any():
            raise ValueError(f"{name}: node label {labels[bad, j][0]} not in label_vocab")
        blocks.append(one_hot(pos, len(voc)))
    return blocks


def _attribute_blocks(root: str | Path, name: str, n: int,
                      num_attributes: int | None) -> list[np.ndarray]:
    """The continuous node attributes (file row order), zero-padded to ``num_attributes``."""
    attr_path = _file(root, name, "node_attributes")
    blocks = []
    own = 0
    if attr_path.exists():
        attrs = _read_floats(attr_path)
        if attrs.shape[0] != n:
            raise ValueError(f"{attr_path}: {attrs.shape[0]} rows for {n} nodes")
        own = attrs.shape[1]
        blocks.append(attrs)
    if num_attributes is not None:
        if num_attributes < own:
            raise ValueError(f"num_attributes={num_attributes} < {name}'s {own} attributes")
        if num_attributes > own:
            blocks.append(np.zeros((n, num_attributes - own), dtype=np.float32))
    return blocks


def _read_edges(root: str | Path, name: str, new_id: np.ndarray,
                node_graph: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lines of ``NAME_A.txt`` as grouped node ids ``(u, v)``, self-loops dropped.

    Raises ``ValueError`` for a malformed file, unknown node ids or an edge between graphs.
    """
    a_path = _file(root, name, "A")
    n = len(new_id)
    e = _read_ints(a_path) if a_path.stat().st_size else np.zeros((0, 2), dtype=np.int64)
    if e.shape[0] and e.shape[1] != 2:
        raise ValueError(f"{a_path}: expected 2 columns, got {e.shape[1]}")
    e = e.reshape(-1, 2) - 1
    if e.size and (e.min() < 0 or e.max() >= n):
        raise ValueError(f"{a_path}: node ids outside 1..{n}")
    u, v = new_id[e[:, 0]], new_id[e[:, 1]]
    keep = u != v
    u, v = u[keep], v[keep]
    if np.any(node_graph[u] != node_graph[v]):
        raise ValueError(f"{a_path}: an edge joins nodes of two different graphs")
    return u, v


def _symmetric_edges(u: np.ndarray, v: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Undirected edges -> (src, dst): repeats merged, both directions, sorted by (src, dst).

    The sort groups the edges by graph, since the nodes are grouped already.
    """
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    und = np.unique(lo * max(n, 1) + hi)  # sorted, distinct undirected edges
    lo, hi = und // max(n, 1), und % max(n, 1)
    src = np.concatenate([lo, hi])
    dst = np.concatenate([hi, lo])
    perm = np.lexsort((dst, src))
    return src[perm].astype(np.int64), dst[perm].astype(np.int64)


def read_tu_pair(
    root: str | Path, id_name: str, ood_name: str, *, use_attributes: bool = True,
) -> tuple[tuple[GraphArrays, np.ndarray], tuple[GraphArrays, np.ndarray]]:
    """Read an ID/OOD pair with a shared ``leaf_x`` width.

    Both sets one-hot their labels over the union of the two label vocabularies (if either has
    labels; both must have the same number of label columns) and zero-pad their attributes to
    the larger attribute width. See the module docstring for what the shared columns mean.

    Returns
    -------
    (id_graphs, id_labels), (ood_graphs, ood_labels)
    """
    va, vb = tu_label_vocab(root, id_name), tu_label_vocab(root, ood_name)
    if va is None and vb is None:
        vocab = None
    else:
        if va is not None and vb is not None and len(va) != len(vb):
            raise ValueError(f"{id_name} and {ood_name} have different numbers of label columns")
        cols = va if vb is None else vb if va is None else \
            [np.union1d(a, b) for a, b in zip(va, vb)]
        vocab = [np.asarray(c, dtype=np.int64) for c in cols]
    n_attr = max(tu_num_attributes(root, id_name), tu_num_attributes(root, ood_name)) \
        if use_attributes else 0
    kw = dict(label_vocab=vocab, num_attributes=n_attr, use_attributes=use_attributes)
    return read_tu(root, id_name, **kw), read_tu(root, ood_name, **kw)
