"""A compact reference set of in-distribution molecules: what "the closest thing we trained on"
and "an environment never seen in training" are looked up in.

A :class:`ReferenceSet` holds, for up to ``max_size`` training molecules (all of them below the
cap, else a seeded sample), their RDKit canonical SMILES, optional IDs/names, packed Morgan
fingerprints (radius 2, 2048 bits) and which of them were held out of training for calibration;
and, over *all* the training molecules it was built from, the set of atom-environment
identifiers (Morgan radius 0–2, :func:`~molood.chem.fingerprints.atom_environments`) and of
elements. Model files store it as plain tensors (:meth:`ReferenceSet.to_tensors`):

==============================  ==========================================================
``reference.smiles``            uint8: the UTF-8 canonical SMILES, concatenated
``reference.smiles_offsets``    int64 [n + 1]: molecule i is bytes ``off[i]:off[i + 1]``
``reference.names[_offsets]``   the same for IDs/names (only when there are names)
``reference.fingerprints``      uint8 [n, 256]: packed Morgan bits (left out when a HNSW
                                neighbour index in the file holds them)
``reference.calibration``       uint8 [n]: 1 = held out of training (calibration molecule)
``reference.environments``      uint32 [m], sorted: atom-environment identifiers seen
``reference.elements``          uint8 [e], sorted: atomic numbers seen
==============================  ==========================================================

About 300 bytes a molecule (256 of them the fingerprint). RDKit + numpy; no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from molood.chem.fingerprints import (
    MISSING_ENV,
    FP_BITS,
    FP_RADIUS,
    atom_environments,
    packed_fingerprints,
    tanimoto,
)

__all__ = ["ReferenceSet", "DEFAULT_REFERENCE_SIZE", "PREFIX"]

DEFAULT_REFERENCE_SIZE = 20_000
"""Most molecules a model file's reference set keeps (a seeded sample above it): ~6 MB."""

PREFIX = "reference."
"""Prefix of the reference set's tensor names in a model file."""


def _encode(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    raw = [s.encode("utf-8") for s in strings]
    offsets = np.zeros(len(raw) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in raw], out=offsets[1:])
    return np.frombuffer(b"".join(raw), dtype=np.uint8).copy(), offsets


class StringColumn(Sequence[str]):
    """Strings stored as a model file stores them (UTF-8 bytes + int64 offsets [n + 1]),
    decoded one at a time when read: a model of millions of molecules loads without building
    millions of Python strings, and the bytes are not copied (a memory-mapped model file's
    pages stay shared between the processes that read it)."""

    def __init__(self, data: np.ndarray, offsets: np.ndarray) -> None:
        self._raw = memoryview(np.ascontiguousarray(data, dtype=np.uint8))
        self._off = np.asarray(offsets, dtype=np.int64)

    def __reduce__(self) -> tuple[Any, tuple[np.ndarray, np.ndarray]]:
        return StringColumn, self.arrays()  # a memoryview does not pickle; its bytes do

    def __len__(self) -> int:
        return int(self._off.size - 1)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return str(self._raw[int(self._off[i]):int(self._off[i + 1])], "utf-8")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple, StringColumn)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-like, compared by content

    def __repr__(self) -> str:
        head = ", ".join(repr(self[i]) for i in range(min(3, len(self))))
        return f"StringColumn([{head}{', ...' if len(self) > 3 else ''}], n={len(self)})"

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(UTF-8 bytes, offsets), as stored."""
        return np.frombuffer(self._raw, dtype=np.uint8).copy(), self._off.copy()


def _encode_column(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    return strings.arrays() if isinstance(strings, StringColumn) else _encode(strings)


@dataclass(eq=False)
class ReferenceSet:
    """In-distribution molecules for nearest-neighbour look-ups (see the module docstring).

    Attributes
    ----------
    smiles : sequence of str
        RDKit canonical SMILES of the kept molecules (a :class:`StringColumn` when read from a
        file).
    names : list of str, or None
        An ID or name per kept molecule ("" where unknown), or None.
    fingerprints : ndarray uint8 [n, 256], or None
        None when they are kept elsewhere (a HNSW neighbour index holds them: ``index``);
        read them with :meth:`packed`.
    calibration : ndarray bool [n]
        True for molecules held out of training (the model's calibration molecules).
    environments : ndarray uint32 [m], sorted
        Atom-environment identifiers of all source molecules.
    elements : ndarray uint8 [e], sorted
        Atomic numbers of all source molecules.
    n_source : int
        Molecules the set was built from (``len(smiles)`` unless it was sampled).
    source : str
        Where the molecules came from ("training set", a file name, ...).
    source_index : ndarray int64 [n] or None
        Position of each kept molecule in what it was built from (``positions`` of
        :meth:`build`; not stored in files): how names are attached afterwards.
    index : neighbour index or None
        The index that holds the fingerprints when ``fingerprints`` is None (a
        :class:`~molood.chem.neighbors.HNSWFingerprintIndex`, in the same order):
        :meth:`packed` reads them out of it once, and :meth:`nearest` asks its ``nearest``
        instead of scanning every fingerprint, so that explaining a molecule of a large model
        takes a graph search and names the neighbours the model's own (approximate) search
        finds.
    """

    smiles: Sequence[str]
    names: Sequence[str] | None
    fingerprints: np.ndarray | None
    calibration: np.ndarray
    environments: np.ndarray
    elements: np.ndarray
    n_source: int
    source: str = "training set"
    source_index: np.ndarray | None = None
    index: Any = field(default=None, repr=False)
    _counts: np.ndarray | None = field(default=None, init=False, repr=False)

    def packed(self) -> np.ndarray:
        """The packed fingerprints, uint8 [n, 256] (read once out of ``index`` when the set
        does not hold them)."""
        if self.fingerprints is None:
            if self.index is None:
                raise ValueError("this reference set has no fingerprints")
            self.fingerprints = np.asarray(self.index.packed(), dtype=np.uint8)
        return self.fingerprints

    def _bit_counts(self) -> np.ndarray:
        if self._counts is None:  # only explanations need them: not computed at load
            self._counts = np.bitwise_count(self.packed()).sum(axis=1, dtype=np.int64)
        return self._counts

    def __len__(self) -> int:
        return len(self.smiles)

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, mols: Sequence[Any], *, names: Sequence[str | None] | None = None,
              calibration: Sequence[int] | np.ndarray | None = None,
              max_size: int | None = DEFAULT_REFERENCE_SIZE, seed: int = 0,
              source: str = "training set", positions: np.ndarray | None = None
              ) -> "ReferenceSet":
        """A reference set of RDKit molecules ``mols`` (all valid).

        ``calibration``: positions in ``mols`` held out of training. Above ``max_size``
        molecules, ``max_size`` of them are kept, drawn with ``RandomState(seed)`` (sorted, so
        the set follows input order); environments and elements always cover all of ``mols``.
        ``positions``: where each of ``mols`` stands in the caller's input (default 0..n-1),
        recorded for the kept ones as ``source_index``.
        """
        from rdkit import Chem

        n = len(mols)
        keep = cls.sample(n, max_size, seed)
        cal = np.zeros(n, dtype=bool)
        if calibration is not None:
            cal[np.asarray(calibration, dtype=np.int64)] = True
        envs: set[int] = set()
        elements: set[int] = set()
        for mol in mols:
            e = atom_environments(mol)
            envs.update(e[e != MISSING_ENV].tolist())
            elements.update(a.GetAtomicNum() for a in mol.GetAtoms())
        kept = [mols[i] for i in keep.tolist()]
        kept_names = None
        if names is not None:
            kept_names = ["" if names[i] is None else str(names[i]) for i in keep.tolist()]
        return cls(smiles=[Chem.MolToSmiles(m) for m in kept], names=kept_names,
                   fingerprints=packed_fingerprints(kept), calibration=cal[keep],
                   environments=np.array(sorted(envs), dtype=np.uint32),
                   elements=np.array(sorted(elements), dtype=np.uint8),
                   n_source=n, source=source,
                   source_index=(keep if positions is None
                                 else np.asarray(positions, dtype=np.int64)[keep]))

    @staticmethod
    def sample(n: int, max_size: int | None, seed: int) -> np.ndarray:
        """Sorted positions of the molecules a set of ``n`` keeps: all of them up to
        ``max_size``, else ``max_size`` drawn with ``RandomState(seed)``."""
        if max_size is None or n <= int(max_size):
            return np.arange(n)
        rng = np.random.RandomState(int(seed))
        return np.sort(rng.choice(n, size=int(max_size), replace=False))

    # ------------------------------------------------------------------ model files
    def to_tensors(self, fingerprints: bool = True) -> tuple[dict[str, np.ndarray],
                                                             dict[str, Any]]:
        """(tensors named ``reference.*``, manifest entry) for a model file; ``fingerprints``
        False leaves them out (a neighbour index in the same file holds them)."""
        smi, off = _encode_column(self.smiles)
        t = {f"{PREFIX}smiles": smi, f"{PREFIX}smiles_offsets": off,
             f"{PREFIX}calibration": self.calibration.astype(np.uint8),
             f"{PREFIX}environments": self.environments.astype(np.uint32),
             f"{PREFIX}elements": self.elements.astype(np.uint8)}
        if fingerprints:
            t[f"{PREFIX}fingerprints"] = np.ascontiguousarray(self.packed(), dtype=np.uint8)
        if self.names is not None:
            t[f"{PREFIX}names"], t[f"{PREFIX}names_offsets"] = _encode_column(self.names)
        meta = {"n": len(self), "n_source": int(self.n_source), "source": self.source,
                "fingerprint": f"Morgan radius {FP_RADIUS}, {FP_BITS} bits, packed",
                "environments": f"unfolded Morgan atom environments, radius 0-{FP_RADIUS}, "
                                "of all source molecules",
                "names": self.names is not None}
        return t, meta

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray], meta: dict[str, Any] | None = None,
                     index: Any = None) -> "ReferenceSet | None":
        """The set stored by :meth:`to_tensors`, or None when ``tensors`` hold none
        (``index``: the neighbour index that holds its fingerprints when they were left out,
        see the class docstring)."""
        if f"{PREFIX}smiles" not in tensors:
            return None
        meta = meta or {}
        g = lambda k: np.asarray(tensors[PREFIX + k])  # noqa: E731
        smiles = StringColumn(g("smiles"), g("smiles_offsets"))
        names = (StringColumn(g("names"), g("names_offsets")) if f"{PREFIX}names" in tensors
                 else None)
        fps = None
        if f"{PREFIX}fingerprints" in tensors:
            fps = np.asarray(g("fingerprints"), dtype=np.uint8).reshape(len(smiles), -1)
        elif index is None:
            raise ValueError("the model file's reference set has no fingerprints")
        return cls(smiles=smiles, names=names, fingerprints=fps, index=index,
                   calibration=g("calibration").astype(bool),
                   environments=g("environments").astype(np.uint32),
                   elements=g("elements").astype(np.uint8),
                   n_source=int(meta.get("n_source", len(smiles))),
                   source=str(meta.get("source", "training set")))

    # ------------------------------------------------------------------ look-ups
    def nearest(self, mol: Any, k: int = 1) -> list[tuple[int, float]]:
        """The ``k`` most similar reference molecules to RDKit molecule ``mol``: (index,
        Tanimoto) pairs, most similar first (ties: lower index first); found by ``index``
        where the set has one (approximate for a HNSW graph), else by a scan of all."""
        if len(self) == 0 or k < 1:
            return []
        if self.index is not None:
            idx, sims = self.index.nearest(packed_fingerprints([mol]), int(k))
            return [(int(i), float(v)) for i, v in zip(idx[0], sims[0]) if i >= 0]
        sim = tanimoto(packed_fingerprints([mol])[0], self.packed(), self._bit_counts())
        k = min(int(k), sim.shape[0])
        top = np.argpartition(-sim, k - 1)[:k] if k < sim.shape[0] else np.arange(sim.shape[0])
        order = sorted(top.tolist(), key=lambda i: (-sim[i], i))
        return [(i, float(sim[i])) for i in order]

    def unseen_radius(self, mol: Any) -> np.ndarray:
        """int64 [n_atoms]: for each atom the smallest Morgan radius (0, 1, 2) at which its
        environment never occurs in the source molecules, or -1 when all are seen."""
        env = atom_environments(mol)
        seen = np.isin(env, self.environments) | (env == MISSING_ENV)
        out = np.full(env.shape[0], -1, dtype=np.int64)
        for r in range(env.shape[1] - 1, -1, -1):
            out[~seen[:, r]] = r
        return out

    def unseen_elements(self, mol: Any) -> dict[str, list[int]]:
        """Element symbol → atom indices of ``mol``'s elements never seen in the source."""
        known = set(self.elements.tolist())
        out: dict[str, list[int]] = {}
        for a in mol.GetAtoms():
            if a.GetAtomicNum() not in known:
                out.setdefault(a.GetSymbol(), []).append(a.GetIdx())
        return out

    def label(self, i: int) -> str:
        """The name of reference molecule ``i`` if it has one, else its SMILES."""
        return (self.names[i] if self.names and self.names[i] else self.smiles[i])
