"""Finding the reference set an explanation looks neighbours up in.

In order: the ``reference=`` given by the caller (a :class:`~molood.chem.reference.ReferenceSet`,
a list of SMILES or a library file); the set stored in the model file (new model files carry
one, :class:`~molood.detectors.sego.detector.SEGODetector` ``reference_size``); a *sidecar* file
``<model>.reference`` next to the model file, used only when its training-set hash equals the
model's (how the bundled model, trained before model files carried references, gets one
without being retrained: :func:`write_sidecar`). Otherwise there is none, and explanations
give what the detector alone can. No torch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from molood.chem.reference import ReferenceSet
from molood.exceptions import MoloodInputError, MoloodModelError

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.base import BaseDetector

__all__ = ["resolve_reference", "reference_from_file", "reference_from_smiles", "sidecar_path",
           "read_sidecar", "write_sidecar"]

_SIDECAR_KEY = "molood-reference"
_READ_ROWS = 50_000


def reference_from_smiles(smiles: Sequence[str], names: Sequence[str | None] | None = None,
                          source: str = "reference SMILES", max_size: int | None = None
                          ) -> ReferenceSet:
    """A reference set of SMILES strings (unparseable ones are skipped, with their names)."""
    from molood.chem.parse import parse

    mols, kept = [], []
    for i, s in enumerate(smiles):
        mol = parse(s)[0] if isinstance(s, str) else None
        if mol is not None and mol.GetNumAtoms():
            mols.append(mol)
            kept.append(i)
    if not mols:
        raise MoloodInputError(f"{source}: no valid molecule to use as a reference")
    kept_names = [names[i] for i in kept] if names is not None else None
    return ReferenceSet.build(mols, names=kept_names, max_size=max_size, source=source)


def _read_table(path: str | os.PathLike, smiles_col: str | None, name_col: str | None
                ) -> tuple[list[Any], list[str | None] | None]:
    """(molecules or SMILES, names) of a library file, streamed."""
    from molood.explain.labels import find_label_columns
    from molood.io.readers import read_batches

    items: list[Any] = []
    names: list[str | None] | None = None
    for b in read_batches(path, smiles_col, batch_size=_READ_ROWS, infer_types=False):
        if names is None:
            id_c, name_c = find_label_columns(list(b.columns.columns), None, name_col,
                                              os.fspath(path))
            col = name_c or id_c
            names = [] if col else None
        items.extend(b.mols()[0] if b.kind == "molblock" else b.smiles)
        if names is not None:
            col_values = b.columns[col].astype(object).where(b.columns[col].notna(), None)
            names.extend(col_values.tolist())
    return items, names


def reference_from_file(path: str | os.PathLike, smiles_col: str | None = None,
                        name_col: str | None = None, max_size: int | None = None
                        ) -> ReferenceSet:
    """A reference set of a library file's molecules, named by its name (or ID) column."""
    items, names = _read_table(path, smiles_col, name_col)
    smiles = [it if isinstance(it, str) or it is None else _to_smiles(it) for it in items]
    return reference_from_smiles(smiles, names, source=os.path.basename(os.fspath(path)),
                                 max_size=max_size)


def _to_smiles(mol: Any) -> str | None:
    from rdkit import Chem

    return Chem.MolToSmiles(mol)


def sidecar_path(model_path: str | os.PathLike) -> Path:
    """``<model>.reference``: where a model file's sidecar reference set lives."""
    return Path(model_path).with_suffix(".reference")


def read_sidecar(model_path: str | os.PathLike, manifest: dict[str, Any]) -> ReferenceSet | None:
    """The sidecar reference set of a model file, if there is one whose training-set hash
    equals ``manifest``'s (else None: a stale or foreign sidecar is ignored)."""
    path = sidecar_path(model_path)
    if not path.is_file():
        return None
    from safetensors import safe_open
    from safetensors.numpy import load_file

    with safe_open(str(path), framework="numpy") as fh:
        meta = json.loads((fh.metadata() or {}).get(_SIDECAR_KEY, "{}"))
    want = (manifest.get("training_set") or {}).get("smiles_sha256")
    if not want or meta.get("training_smiles_sha256") != want:
        return None
    return ReferenceSet.from_tensors(load_file(str(path)), meta.get("reference"))


def write_sidecar(model_path: str | os.PathLike, train_input: str | os.PathLike,
                  smiles_col: str | None = None, name_col: str | None = None) -> Path:
    """Write ``<model>.reference`` for a model file that has no reference set, from the file
    it was trained on: every valid molecule, named, with the model's calibration molecules
    marked (its seeded split of the valid molecules, replayed). MoloodModelError when the
    file's molecules are not the model's training set (their hash differs)."""
    from safetensors.numpy import save_file

    from molood._fs import atomic_path
    from molood.chem.parse import parse
    from molood.detectors.inputs import smiles_sha256
    from molood.detectors.registry import get_detector_class
    from molood.persist import read_manifest

    manifest = read_manifest(model_path)
    items, names = _read_table(train_input, smiles_col, name_col)
    mols = [parse(it)[0] if isinstance(it, str) else it for it in items]
    ok = [i for i, m in enumerate(mols) if m is not None]
    sha = smiles_sha256([mols[i] for i in ok])
    if sha != (manifest.get("training_set") or {}).get("smiles_sha256"):
        raise MoloodModelError(f"{train_input} is not the training set of {model_path} "
                               "(canonical-SMILES hashes differ)")
    det = get_detector_class(str(manifest.get("detector", "sego")))(
        **{k: v for k, v in (manifest.get("params") or {}).items()
           if k in ("seed", "val_fraction")})
    cal = det._split(len(ok))[1] if hasattr(det, "_split") else None
    ref = ReferenceSet.build([mols[i] for i in ok], max_size=None, calibration=cal,
                             names=[names[i] for i in ok] if names is not None else None,
                             source=os.path.basename(os.fspath(train_input)))
    tensors, meta = ref.to_tensors()
    header = {_SIDECAR_KEY: json.dumps({"format": _SIDECAR_KEY, "training_smiles_sha256": sha,
                                        "reference": meta})}
    out = sidecar_path(model_path)
    with atomic_path(out) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(tmp),
                  metadata=header)
    return out


def resolve_reference(det: "BaseDetector | None", reference: Any = None,
                      model_path: str | os.PathLike | None = None) -> ReferenceSet | None:
    """The reference set to explain with (module docstring for the order)."""
    if isinstance(reference, ReferenceSet):
        return reference
    if isinstance(reference, (str, os.PathLike)):
        return reference_from_file(reference)
    if reference is not None:
        return reference_from_smiles(list(reference))
    if det is not None and getattr(det, "reference_", None) is not None:
        return det.reference_
    manifest = getattr(det, "manifest_", None) if det is not None else None
    if model_path is None and manifest is not None:
        from molood.persist import default_model_path

        model_path = default_model_path()  # the sidecar is used only if the hashes match
    if model_path is not None and sidecar_path(model_path).is_file():
        from molood.persist import read_manifest

        return read_sidecar(model_path, manifest or read_manifest(model_path))
    return None
