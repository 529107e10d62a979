"""OOD detectors: the shared base class (:mod:`.base`), conformal calibration
(:mod:`.calibration`), the name registry model files use (:mod:`.registry`) and the detectors
themselves (:mod:`.sego`).

Importing this package does not import torch; a detector module does when it is imported.
"""
