"""molood: molecular out-of-distribution screening with SEGO.

Scores are "higher = more OOD" everywhere. ``import molood`` is light: torch and dgl are
imported only when a model is built, trained or loaded (lazy attribute table below).
Importing the package registers the ``DataFrame.molood`` pandas accessor.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "SEGODetector": "molood.detector",
    "load_model": "molood.persist",
    "default_model_path": "molood.persist",
    "screen": "molood.screen",
    "smiles_to_graph": "molood.featurize",
    "mol_to_graph": "molood.featurize",
    "smiles_to_batch": "molood.featurize",
    "build_coding_tree": "molood.codingtree",
    "structural_entropy": "molood.codingtree",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # pragma: no cover - for IDEs and type checkers only
    from molood.codingtree import build_coding_tree, structural_entropy
    from molood.detector import SEGODetector
    from molood.featurize import mol_to_graph, smiles_to_batch, smiles_to_graph
    from molood.persist import default_model_path, load_model
    from molood.screen import screen


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'molood' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def _register_accessor() -> None:
    try:
        importlib.import_module("molood.accessor")
    except ModuleNotFoundError as exc:  # accessor module not built yet / pandas missing
        if exc.name not in ("molood.accessor", "pandas"):
            raise


_register_accessor()
