"""Atom types a training set contains, and the hard rule built on them: a molecule with an
element, or an element in a charge, radical or valence state, that no training molecule has is
out of distribution, whatever any statistic says ("element U not in training set").

An atom's type is ``(atomic number, formal charge, radical electrons, total valence)``.
:class:`AtomTypeSet` keeps, for each of the four checks, the codes seen and in how many
training molecules, so that leave-one-out checks (calibration) see what a molecule would look
like had it not been in training. RDKit + numpy; no torch.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = ["atom_types", "plain_atom_types", "distinct_types", "AtomTypeSet"]

_CHECKS = ("element", "charge", "radical", "valence")


def atom_types(mol: Any, plain: bool = False) -> np.ndarray:
    """int64 [n_atoms, 4]: atomic number, formal charge, radical electrons, total valence.

    ``plain=True`` promises that ``mol`` was parsed from, or is written as, a plain SMILES
    (:func:`~molood.chem.parse.is_plain_smiles`): then no atom is a radical and every carbon is
    neutral with valence 4, so only the elements, and the charge and valence of the other
    atoms, are read (about half the getter calls; the same result)."""
    from rdkit import Chem

    atoms = list(map(mol.GetAtomWithIdx, range(mol.GetNumAtoms())))  # faster than GetAtoms()
    if plain:
        out = np.zeros((len(atoms), 4), dtype=np.int64)
        z = list(map(Chem.Atom.GetAtomicNum, atoms))
        out[:, 0] = z
        out[:, 3] = 4
        other = [j for j, e in enumerate(z) if e != 6]
        if other:
            read = [atoms[j] for j in other]
            out[other, 1] = list(map(Chem.Atom.GetFormalCharge, read))
            out[other, 3] = list(map(Chem.Atom.GetTotalValence, read))
        return out
    out = np.empty((len(atoms), 4), dtype=np.int64)
    for j, get in enumerate((Chem.Atom.GetAtomicNum, Chem.Atom.GetFormalCharge,
                             Chem.Atom.GetNumRadicalElectrons, Chem.Atom.GetTotalValence)):
        out[:, j] = list(map(get, atoms))
    return out


_ATOM = re.compile(r"Cl|Br|[BCNOPSFIbcnops]")  # the atoms of a plain SMILES
_ELEMENT = {"B": 5, "b": 5, "C": 6, "c": 6, "N": 7, "n": 7, "O": 8, "o": 8, "F": 9, "P": 15,
            "p": 15, "S": 16, "s": 16, "Cl": 17, "Br": 35, "I": 53}
_ONE_VALENCE = np.full(54, -1, dtype=np.int64)  # -1: P, S, I allow several
_ONE_VALENCE[[5, 6, 7, 8, 9, 17, 35]] = [3, 4, 3, 2, 1, 1, 1]


def plain_atom_types(mol: Any, smiles: str, written: bool = False) -> np.ndarray:
    """:func:`atom_types` of a molecule parsed from, or written as, the plain SMILES
    ``smiles`` (:func:`~molood.chem.parse.is_plain_smiles`), with a few RDKit calls instead of
    a few per atom: the elements are read off the text; no atom is charged or a radical; a
    neutral B, C, N, O, F, Cl or Br atom has the one valence RDKit allows it; only P, S and I
    atoms are asked for theirs. Rows in the order of the text's atoms (the molecule's own
    order when it was parsed from the text; the same rows as :func:`atom_types` in any case).

    ``written=True`` says that ``smiles`` is RDKit's own SMILES of the molecule
    (``MolToSmiles``), which writes every charged atom in brackets; otherwise the molecule is
    checked for charged atoms (RDKit's clean-up charges some plain texts, e.g.
    ``CN(=O)=O``). Anything the text cannot vouch for (a charged atom, a dummy atom, P/S/I
    atoms not where the text has them) takes the full read."""
    symbols = _ATOM.findall(smiles)
    n = mol.GetNumAtoms()
    if len(symbols) != n or (not written and mol.HasSubstructMatch(_charged())):
        return atom_types(mol, plain=True)
    out = np.zeros((n, 4), dtype=np.int64)
    out[:, 0] = np.fromiter(map(_ELEMENT.__getitem__, symbols), dtype=np.int64, count=n)
    out[:, 3] = _ONE_VALENCE[out[:, 0]]
    several = np.flatnonzero(out[:, 3] < 0).tolist()
    if several:
        atoms = list(map(mol.GetAtomWithIdx, several))
        if [a.GetAtomicNum() for a in atoms] != out[several, 0].tolist():
            return atom_types(mol, plain=True)
        out[several, 3] = [a.GetTotalValence() for a in atoms]
    return out


@functools.cache
def _charged() -> Any:
    from rdkit import Chem

    return Chem.MolFromSmarts("[!+0]")


def distinct_types(types: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each molecule's distinct :func:`atom_types` rows, concatenated (int32 [r, 4]), and the
    offsets int64 [n + 1] where molecule i's rows start: what :meth:`AtomTypeSet.from_distinct`
    takes, about 100 bytes a molecule."""
    distinct = [np.unique(t, axis=0) if len(t) else np.zeros((0, 4), np.int64) for t in types]
    offsets = np.zeros(len(types) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in distinct], out=offsets[1:])
    rows = np.concatenate(distinct).astype(np.int32) if distinct else np.zeros((0, 4), np.int32)
    return rows, offsets


def _codes(types: np.ndarray) -> np.ndarray:
    """int64 [n_atoms, 4]: one code per check (element; element+charge; element+radicals;
    element+valence)."""
    z, chg, rad, val = types[:, 0], types[:, 1], types[:, 2], types[:, 3]
    return np.stack([z, z * 1000 + (chg + 500), z * 1000 + rad, z * 1000 + val], axis=1)


def _symbol(z: int) -> str:
    from rdkit import Chem

    return Chem.GetPeriodicTable().GetElementSymbol(int(z)) if z > 0 else "*"


def _describe(check: str, t: np.ndarray) -> str:
    sym = _symbol(int(t[0]))
    if check == "element":
        return f"element {sym} not in training set"
    if check == "charge":
        return f"charge {int(t[1]):+d} on {sym} not in training set"
    if check == "radical":
        return f"radical {sym} not in training set"
    return f"valence {int(t[3])} on {sym} not in training set"


@dataclass(eq=False)
class AtomTypeSet:
    """The atom types of a set of molecules (see the module docstring).

    Attributes
    ----------
    codes : list of 4 ndarray int64, sorted
        Per check, the codes seen.
    counts : list of 4 ndarray int64
        Per check, in how many molecules each code occurs (only kept after :meth:`build`;
        model files store ``codes`` only, and leave-one-out needs counts).
    """

    codes: list[np.ndarray]
    counts: list[np.ndarray] | None = None

    @classmethod
    def build(cls, types: Sequence[np.ndarray]) -> "AtomTypeSet":
        """The set of ``types`` (one :func:`atom_types` array per molecule)."""
        return cls.from_distinct(*distinct_types(types))

    @classmethod
    def from_distinct(cls, rows: np.ndarray, offsets: np.ndarray) -> "AtomTypeSet":
        """The set of molecules given by their distinct atom-type rows, concatenated (int
        [r, 4]; molecule i is ``rows[offsets[i]:offsets[i + 1]]``; :func:`distinct_types`),
        vectorised for millions."""
        rows = np.asarray(rows, dtype=np.int64)
        mol_of = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))
        codes = _codes(rows) if len(rows) else np.zeros((0, 4), np.int64)
        out_codes, out_counts = [], []
        for j in range(4):
            pairs = np.unique(np.stack([mol_of, codes[:, j]], axis=1), axis=0)
            u, n = np.unique(pairs[:, 1], return_counts=True)
            out_codes.append(u.astype(np.int64))
            out_counts.append(n.astype(np.int64))
        return cls(out_codes, out_counts)

    def _found(self, codes: np.ndarray, leave_one_out: bool) -> np.ndarray:
        """bool [n_atoms, 4]: whether each atom passes each check."""
        found = np.zeros(codes.shape, dtype=bool)
        for j in range(4):
            seen = self.codes[j]
            if seen.size == 0:
                continue
            pos = np.minimum(np.searchsorted(seen, codes[:, j]), seen.size - 1)
            found[:, j] = seen[pos] == codes[:, j]
            if leave_one_out:
                if self.counts is None:
                    raise ValueError("leave-one-out needs the counts of AtomTypeSet.build")
                found[:, j] &= self.counts[j][pos] > 1
        return found

    def violations_many(self, types: Sequence[np.ndarray], leave_one_out: bool = False
                        ) -> list[list[str]]:
        """:meth:`violations` of many molecules at once (one vectorised pass over all their
        atoms; only molecules with an unseen type are looked at one by one)."""
        sizes = np.array([len(t) for t in types], dtype=np.int64)
        out: list[list[str]] = [[] for _ in types]
        if sizes.sum() == 0:
            return out
        found = self._found(_codes(np.concatenate([t for t in types if len(t)])),
                            leave_one_out)
        mol_of = np.repeat(np.arange(len(types)), sizes)
        bad = np.unique(mol_of[~found.all(axis=1)])
        for i in bad.tolist():
            out[i] = self.violations(types[i], leave_one_out)
        return out

    def violations(self, types: np.ndarray, leave_one_out: bool = False) -> list[str]:
        """Reasons, one per distinct unseen type, most basic check first (an unseen element is
        not also reported as an unseen charge of it). ``leave_one_out``: the molecule is one of
        the set's own, and types only it has count as unseen."""
        if len(types) == 0:
            return []
        codes = _codes(types)
        all_found = self._found(codes, leave_one_out)
        out: list[str] = []
        bad_atoms = np.zeros(len(types), dtype=bool)
        for j, check in enumerate(_CHECKS):
            found = all_found[:, j]
            new = ~found & ~bad_atoms
            done: set[int] = set()
            for i in np.flatnonzero(new).tolist():
                if int(codes[i, j]) in done:
                    continue
                done.add(int(codes[i, j]))
                out.append(_describe(check, types[i]))
            bad_atoms |= ~found
        return out
