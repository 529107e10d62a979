"""Graphs as flat numpy arrays: the layer between RDKit (:mod:`molood.chem`) and the model.

- :mod:`.arrays`: :class:`~molood.graphs.arrays.GraphArrays`, B graphs as concatenated arrays
  (slicing, joining, degrees, per-graph edges);
- :mod:`.features`: topological and tree-leaf node features;
- :mod:`.randomwalk`: random-walk return probabilities (dense for ordinary graphs, sparse and
  linear in atoms for large ones);
- :mod:`.codingtree`: SEGO's structural-entropy coding tree of one graph;
- :mod:`.trees`: coding trees of many graphs (deduplicated, cached, parallel) and their batching;
- :mod:`.tu`: the TU-dataset reader.

numpy (and scipy.sparse for graphs above 256 nodes): no RDKit, no torch, so generic
(non-molecular) graphs use the same code.
"""
