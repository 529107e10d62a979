"""SEGO (Hou et al., AAAI 2025): structural-entropy coding trees + multi-grained contrastive
learning over GIN encoders.

``detector`` (the :class:`SEGODetector` estimator), ``nets`` (the DGL training network),
``inference`` (the plain-torch scoring network), ``losses``, ``batching`` (arrays → tensors) and
``dgl`` (arrays and molecules → DGL graphs). Importing this package imports nothing heavy.
"""
