"""Process-level torch/DGL settings: the one place that imports DGL (after choosing its PyTorch
backend), and torch's thread count around a fit or a scoring call.

DGL is needed to *train* SEGO (its GIN layers run on ``DGLGraph``s); scoring runs on plain torch
(:mod:`.inference`), so screening workers never pay DGL's import time. Call
:func:`import_dgl` where a DGL graph or layer is first needed.
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["import_dgl", "torch_threads"]


def import_dgl() -> ModuleType:
    """The ``dgl`` module, with ``DGLBACKEND=pytorch`` unless the user chose otherwise."""
    os.environ.setdefault("DGLBACKEND", "pytorch")
    import dgl

    return dgl


class torch_threads:
    """Context manager: torch's intra-op thread count set to ``n`` inside, restored after
    (``None`` leaves it alone)."""

    def __init__(self, n: int | None) -> None:
        self.n, self.old = n, None

    def __enter__(self) -> None:
        if self.n is not None:
            import torch

            self.old = torch.get_num_threads()
            torch.set_num_threads(int(self.n))

    def __exit__(self, *exc: object) -> None:
        if self.old is not None:
            import torch

            torch.set_num_threads(self.old)
