"""Graphs as flat numpy arrays: :class:`~molood.graphs.arrays.GraphArrays`, topological and
tree-leaf node features, SEGO's coding trees and the TU-dataset reader.

numpy only: no RDKit, no torch, so generic (non-molecular) graphs use the same code.
"""
