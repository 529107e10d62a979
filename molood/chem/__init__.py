"""Chemistry: RDKit parsing with per-row error reasons, standardisation (frozen into every new
model), the legacy fragment rule, the atom cap and the OGB atom features.

RDKit and numpy only (no torch): molecules in, :class:`~molood.graphs.arrays.GraphArrays` out.
"""
