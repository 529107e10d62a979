"""What graph detectors accept as input, turned into :class:`~molood.graphs.arrays.GraphArrays`:
SMILES strings, RDKit molecules (mixed freely), missing values, or an already featurized
GraphArrays; plus the training-set fingerprints model files record. RDKit + numpy, no torch.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from typing import TYPE_CHECKING, Any, Iterable, Literal, Sequence

import numpy as np

from molood.graphs.arrays import GraphArrays

if TYPE_CHECKING:  # pragma: no cover
    from molood.chem.standardize import Standardizer

__all__ = ["as_list", "to_graph_arrays", "check_training_rows",
           "smiles_sha256", "canonical_keys", "keys_sha256", "graph_arrays_sha256"]


def _mol_type() -> tuple[type, ...]:
    from rdkit import Chem

    return (Chem.Mol,)


def as_list(X: Any) -> list[Any]:
    """``X`` as a list of items: one SMILES or Mol becomes a one-item list; arrays, Series and
    other iterables are listed."""
    if isinstance(X, (str,) + _mol_type()):
        return [X]
    return list(X.tolist() if hasattr(X, "tolist") else X)


def to_graph_arrays(X: Any, largest_fragment: bool = False, max_atoms: int | None = None,
                    standardizer: Standardizer | None = None,
                    smiles_out: list[str | None] | None = None,
                    mols_out: list[Any] | None = None, featurize: bool = True
                    ) -> tuple[GraphArrays | None, np.ndarray, list[str | None]]:
    """(GraphArrays of the valid inputs in input order, bool mask [n] of valid inputs, error
    reason per input). Never raises for an unparseable molecule; a non-molecule item (not a
    str, Mol, None or NaN) is a TypeError. SMILES and Mols are featurized by
    :func:`~molood.chem.features.smiles_to_arrays` (``largest_fragment``, ``standardizer``).
    Molecules with more than ``max_atoms`` atoms are invalid with the reason ``"too_large: N
    atoms (max_atoms=M)"``; so are graphs of a GraphArrays input with more nodes (they are then
    left out of the returned set). ``smiles_out`` is extended with one entry per input: the
    SMILES of the molecule featurized (:func:`~molood.chem.features.smiles_to_arrays`), None
    where none; ``mols_out`` likewise with the RDKit molecule featurized. ``featurize=False``
    parses and standardises only (the arrays returned are None)."""
    errors: list[str | None]
    if isinstance(X, GraphArrays):
        if smiles_out is not None:
            smiles_out.extend([None] * len(X))
        if mols_out is not None:
            mols_out.extend([None] * len(X))
        errors = [None] * len(X)
        if max_atoms is not None and (X.num_nodes > max_atoms).any():
            from molood.chem.limits import too_large

            errors = [None if n <= max_atoms else too_large(n, max_atoms)
                      for n in X.num_nodes.tolist()]
            keep = np.flatnonzero(X.num_nodes <= max_atoms)
            return (X.take(keep) if keep.size else None), X.num_nodes <= max_atoms, errors
        return X, np.ones(len(X), dtype=bool), errors
    from molood.chem.features import smiles_to_arrays

    mol_type = _mol_type()
    items = as_list(X)
    errors = [None] * len(items)
    rows = []
    for i, it in enumerate(items):
        if isinstance(it, (str,) + mol_type):
            rows.append(i)
        elif it is None or (isinstance(it, float) and math.isnan(it)):
            errors[i] = "missing value"
        else:
            raise TypeError(f"row {i}: expected a SMILES string or RDKit Mol, got "
                            f"{type(it).__name__}")
    written: list[str | None] | None = [] if smiles_out is not None else None
    mols: list[Any] | None = [] if mols_out is not None else None
    ga, errs = smiles_to_arrays([items[i] for i in rows], largest_fragment=largest_fragment,
                                max_atoms=max_atoms, standardizer=standardizer,
                                smiles_out=written, mols_out=mols, featurize=featurize)
    for i, e in zip(rows, errs):
        errors[i] = e
    for out, got in ((smiles_out, written), (mols_out, mols)):
        if out is not None:
            per_input: list[Any] = [None] * len(items)
            for i, s in zip(rows, got or []):
                per_input[i] = s
            out.extend(per_input)
    valid = np.array([e is None for e in errors], dtype=bool)
    return (ga if valid.any() else None), valid, errors


def _short(msg: str, limit: int = 100) -> str:
    return msg if len(msg) <= limit else msg[:limit - 3] + "..."


def check_training_rows(errors: list[str | None], on_invalid: Literal["raise", "skip"]) -> None:
    """Unparseable training rows: a ValueError listing them (``on_invalid="raise"``), or a
    warning that they are skipped (``"skip"``)."""
    bad = [(i, e) for i, e in enumerate(errors) if e is not None]
    if not bad:
        return
    listing = "; ".join(f"row {i}: {_short(e)}" for i, e in bad[:10])
    more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
    if on_invalid == "raise":
        raise ValueError(f"{len(bad)} of {len(errors)} training molecules could not be "
                         f"parsed: {listing}{more}. Fix or drop them, or pass "
                         "on_invalid='skip'.")
    warnings.warn(f"skipping {len(bad)} unparseable training molecules: {listing}{more}",
                  UserWarning, stacklevel=3)


def graph_arrays_sha256(ga: GraphArrays) -> str:
    """SHA-256 of a graph set: for x, leaf_x, src, dst, num_nodes, num_edges in turn,
    ``name:dtype:shape`` then the raw bytes (input order matters)."""
    h = hashlib.sha256()
    for name in ("x", "leaf_x", "src", "dst", "num_nodes", "num_edges"):
        a = np.ascontiguousarray(getattr(ga, name))
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def canonical_keys(items: Iterable[Any], written: Sequence[str | None] | None = None
                   ) -> list[str]:
    """What identifies each molecule (SMILES or Mol) in a training-set hash: its RDKit
    canonical SMILES, or the item as text where RDKit cannot canonicalise it.

    ``written``: the (standardised) canonical SMILES RDKit wrote for each item, where known. A
    SMILES item equal to it is its own key without being parsed and written again: RDKit
    wrote that very string for the molecule it describes (the shortcut standardisation itself
    takes, :func:`~molood.chem.standardize.standardize_mol`); ~90 µs a molecule of training
    on canonical inputs."""
    from molood.chem.parse import canonical_smiles

    items = list(items)
    keys: list[str | None] = [None] * len(items)
    if written is not None:
        keys = [w if type(it) is str and it == w else None for it, w in zip(items, written)]
    redo = [j for j, k in enumerate(keys) if k is None]
    for j, c in zip(redo, canonical_smiles([items[j] for j in redo])):
        keys[j] = c if c is not None else str(items[j])
    return keys  # type: ignore[return-value]


def keys_sha256(keys: Iterable[str]) -> str:
    """SHA-256 of :func:`canonical_keys`, sorted and newline-joined: order-independent."""
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()


def smiles_sha256(items: Iterable[Any]) -> str:
    """SHA-256 of the sorted RDKit-canonical SMILES (newline-joined) of molecules (SMILES or
    Mols): the same for any order of the same training set."""
    return keys_sha256(canonical_keys(items))
