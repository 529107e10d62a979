"""The one place that imports DGL, after choosing its PyTorch backend.

DGL is needed to *train* SEGO (its GIN layers run on ``DGLGraph``s); scoring runs on plain torch
(:mod:`.inference`), so screening workers never pay DGL's import time. Call
:func:`import_dgl` where a DGL graph or layer is first needed.
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["import_dgl"]


def import_dgl() -> ModuleType:
    """The ``dgl`` module, with ``DGLBACKEND=pytorch`` unless the user chose otherwise."""
    os.environ.setdefault("DGLBACKEND", "pytorch")
    import dgl

    return dgl
