"""Chemistry: RDKit parsing with per-row error reasons and the OGB atom features.

RDKit and numpy only (no torch): molecules in, :class:`~molood.graphs.arrays.GraphArrays` out.
"""
