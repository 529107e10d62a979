"""molood: molecular out-of-distribution screening (SEGO and the hybrid detector).

Scores are "higher = more OOD" everywhere. ``import molood`` is light: torch and dgl are
imported only when a model is built, trained or loaded (lazy attribute table below).
Importing the package registers the ``DataFrame.molood`` pandas accessor (except in molood's
own worker processes, which never use it: :data:`molood._parallel.WORKER_ENV`).
"""

from __future__ import annotations

import importlib
import os as _os
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from molood.exceptions import (  # a module without imports
    MoloodError,
    MoloodInputError,
    MoloodModelError,
    MoloodResumeError,
    MoloodVersionWarning,
    NotFittedError,
)

_LAZY: dict[str, str] = {
    "HybridDetector": "molood.detectors.hybrid.detector",
    "SEGODetector": "molood.detectors.sego.detector",
    "BaseDetector": "molood.detectors.base",
    "available_detectors": "molood.detectors.registry",
    "load_model": "molood.persist",
    "default_model_path": "molood.persist",
    "screen": "molood.screening.engine",
    "train_file": "molood.train",
    "smiles_to_graph": "molood.detectors.sego.dgl",
    "mol_to_graph": "molood.detectors.sego.dgl",
    "smiles_to_batch": "molood.detectors.sego.dgl",
    "build_coding_tree": "molood.graphs.codingtree",
    "structural_entropy": "molood.graphs.codingtree",
}

__all__ = ["__version__", "MoloodError", "MoloodInputError", "MoloodModelError",
           "MoloodResumeError", "MoloodVersionWarning", "NotFittedError", *_LAZY]

if TYPE_CHECKING:  # pragma: no cover - for IDEs and type checkers only
    from molood.detectors.base import BaseDetector  # noqa: F401
    from molood.detectors.hybrid.detector import HybridDetector  # noqa: F401
    from molood.detectors.registry import available_detectors  # noqa: F401
    from molood.detectors.sego.detector import SEGODetector  # noqa: F401
    from molood.detectors.sego.dgl import (  # noqa: F401
        mol_to_graph,
        smiles_to_batch,
        smiles_to_graph,
    )
    from molood.graphs.codingtree import build_coding_tree, structural_entropy  # noqa: F401
    from molood.persist import default_model_path, load_model  # noqa: F401
    from molood.screening.engine import screen  # noqa: F401
    from molood.train import train_file  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'molood' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if _os.environ.get("MOLOOD_WORKER_PROCESS") != "1":  # molood._parallel.WORKER_ENV
    from molood import accessor as _accessor  # noqa: E402,F401  registers DataFrame.molood
