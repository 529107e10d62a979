"""Molecules -> :class:`~molood.graphs.arrays.GraphArrays`: RDKit parsing and the 9 OGB atom
features.

The featurizer works on whole batches: per-atom RDKit getters are collected into flat Python
lists in one pass and turned into the OGB indices with numpy (no ``safe_index``/``list.index``
per atom, no per-molecule arrays). The result is a :class:`~molood.graphs.arrays.GraphArrays`.

Conventions (identical to ``ogb.utils.smiles2graph``):

* ``x`` holds the 9 OGB atom features as int64 indices into OGB's ``allowable_features``
  lists; a value outside a list maps to its last ("misc") slot: atomic number 0 (``*``) or
  > 118 -> 118, chiral tags other than CW/CCW/OTHER -> 4, degree > 10 -> 11, |charge| > 5 -> 11,
  > 8 hydrogens -> 9, > 4 radical electrons -> 5, hybridisation other than SP..SP3D2
  (``S``, ``SP2D``, ``UNSPECIFIED``, ``OTHER``) -> 5.
* Edges: for RDKit bond i, (begin, end) then (end, begin); no self loops. Dative bonds
  (``->``) are ordinary edges (OGB ignores bond types here too).
* Molecules are parsed with RDKit defaults (sanitized, explicit hydrogens removed), so
  ``[H]C([H])([H])O`` becomes the 2-atom heavy-atom graph of methanol with numH = 3 on C,
  exactly like OGB. Hydrogens RDKit keeps (``[H][H]``, ``[H+]``, isotopic ``[2H]``, H bonded
  to two atoms) stay atoms with atomic-number index 0. Isotopes do not change any feature.
  Charges, radicals (also CXSMILES ``|^1:0|``) and aromaticity are read after sanitization.
* Multi-fragment records (salts, mixtures) are kept whole by default. With
  ``largest_fragment=True`` only one fragment is kept: the one with the most heavy atoms
  (atomic number > 1); ties go to the one with more atoms in total, then to the fragment
  containing the lowest atom index. Atoms keep their relative order; features are those of
  the full molecule (they are all fragment-local, so equal to featurizing the fragment alone).
  (:mod:`molood.chem.fragments`; the rule of models without standardisation.)
* With a ``standardizer`` (:mod:`molood.chem.standardize`, every new model has one) each
  molecule is first standardised and put in canonical atom order; its fragment step replaces
  ``largest_fragment``. Without one (older models) molecules are featurized as written.
* Inputs of kind ``"smiles"`` may also be RDKit Mol objects (a DataFrame's ``ROMol`` column):
  taken as they are, not parsed.
"""

from __future__ import annotations

from itertools import compress, repeat
from typing import Sequence

import numpy as np
from rdkit import Chem

from molood.chem.fragments import pick_fragment, select_fragments, size_error
from molood.chem.limits import DEFAULT_MAX_ATOMS, plain_smiles_atoms, too_large
from molood.chem.parse import (
    InputKind,
    check_kind,
    is_plain_smiles,
    parse_molblock,
    parse_smiles,
    quiet_rdkit,
)
from molood.chem.standardize import Standardizer, standardize_mol
from molood.graphs.arrays import GraphArrays

__all__ = [
    "mols_to_arrays",
    "smiles_to_arrays",
    "molblocks_to_arrays",
    "inputs_to_arrays",
    "size_error",
    "ATOM_FEATURE_DIMS",
    "DEFAULT_MAX_ATOMS",
]

#: sizes of the 9 OGB atom-feature vocabularies (``ogb.utils.features.get_atom_feature_dims``)
ATOM_FEATURE_DIMS = (119, 5, 12, 12, 10, 6, 6, 2, 2)


def _enum_lut(enum_type: type, vocab: Sequence[str]) -> np.ndarray:
    """int(enum value) -> OGB index, with OGB's rule: not in vocab -> misc (= len(vocab))."""
    lut = np.full(64, len(vocab), dtype=np.int64)
    for value in enum_type.values.values():
        name = str(value)
        if int(value) < lut.shape[0] and name in vocab:
            lut[int(value)] = vocab.index(name)
    return lut


# OGB's possible_chirality_list / possible_hybridization_list (without the trailing 'misc')
_CHI_LUT = _enum_lut(Chem.ChiralType, ["CHI_UNSPECIFIED", "CHI_TETRAHEDRAL_CW",
                                       "CHI_TETRAHEDRAL_CCW", "CHI_OTHER"])
_HYB_LUT = _enum_lut(Chem.HybridizationType, ["SP", "SP2", "SP3", "SP3D", "SP3D2"])

# unbound RDKit getters, called through map() over many atoms/bonds at once
_get_z, _get_chi, _get_chg, _get_hs, _get_rad, _get_hyb, _get_aro, _get_ring = (
    Chem.Atom.GetAtomicNum, Chem.Atom.GetChiralTag, Chem.Atom.GetFormalCharge,
    Chem.Atom.GetTotalNumHs, Chem.Atom.GetNumRadicalElectrons, Chem.Atom.GetHybridization,
    Chem.Atom.GetIsAromatic, Chem.Atom.IsInRing)
_get_begin, _get_end = Chem.Bond.GetBeginAtomIdx, Chem.Bond.GetEndAtomIdx


def _ogb_x(z, chi, hs, chg, rad, hyb, aro, ring, deg) -> np.ndarray:
    """Vectorised ``atom_to_feature_vector`` from flat per-atom integer arrays."""
    x = np.empty((z.shape[0], 9), dtype=np.int64)
    x[:, 0] = np.where((z >= 1) & (z <= 118), z - 1, 118)
    x[:, 1] = _CHI_LUT[np.minimum(chi, _CHI_LUT.shape[0] - 1)]
    x[:, 2] = np.where(deg <= 10, deg, 11)
    x[:, 3] = np.where((chg >= -5) & (chg <= 5), chg + 5, 11)
    x[:, 4] = np.where(hs <= 8, hs, 9)
    x[:, 5] = np.where(rad <= 4, rad, 5)
    x[:, 6] = _HYB_LUT[np.minimum(hyb, _HYB_LUT.shape[0] - 1)]
    x[:, 7] = aro
    x[:, 8] = ring
    return x


# Hybridization of a carbon atom of a plain SMILES (see _Accumulator.add) by its total degree
# (neighbours + hydrogens): RDKit counts bonds + lone pairs, and a neutral four-valent carbon
# has no lone pair, so 4 -> SP3 (never lowered to SP2 by conjugation: that needs degree <= 3),
# 3 -> SP2, 2 -> SP. -1: cannot occur (checked).
_CARBON_HYB = np.full(16, -1, dtype=np.int64)
_CARBON_HYB[2] = int(Chem.HybridizationType.SP)
_CARBON_HYB[3] = int(Chem.HybridizationType.SP2)
_CARBON_HYB[4] = int(Chem.HybridizationType.SP3)


class _Accumulator:
    """Collects per-atom getter results of many molecules into flat lists (one pass per mol).

    Molecules are featurized as soon as they are parsed and not kept alive, which keeps
    Python's cyclic GC quiet (holding thousands of Mol objects makes it run often).

    Getters are Python-to-C++ calls of ~0.1-0.5 us each and dominate featurization. For
    molecules from a plain SMILES (:func:`is_plain_smiles`), chiral tag and radical count are
    known to be 0, and a carbon's charge (0) and hybridization (from its total degree) are
    known too, so those getters run only on the other atoms (``chg``/``hyb`` hold the values of
    the atoms read, ``chi``/``rad`` those of non-plain molecules; :meth:`finish` fills in).
    """

    def __init__(self, largest_fragment: bool = False) -> None:
        self.largest_fragment = largest_fragment
        self.z: list[int] = []
        self.chi: list = []
        self.hs: list[int] = []
        self.chg: list[int] = []
        self.rad: list[int] = []
        self.hyb: list = []
        self.aro: list[bool] = []
        self.ring: list[bool] = []
        self.bu: list[int] = []
        self.bv: list[int] = []
        self.n_atoms: list[int] = []
        self.n_bonds: list[int] = []
        self.plain: list[bool] = []
        self.frag_keep: list[tuple[int, tuple[int, ...]]] = []  # (graph, kept local atom ids)

    def add(self, mol: Chem.Mol, chiral: bool = True, plain: bool = False) -> None:
        """Featurize one molecule. ``chiral=False`` promises that no atom carries a chiral tag
        (a plain SMILES without ``@`` or a CXSMILES block), which skips that enum getter;
        ``plain=True`` that the molecule was parsed from a plain SMILES (:func:`is_plain_smiles`).
        """
        n = mol.GetNumAtoms()
        m = mol.GetNumBonds()
        # GetAtomWithIdx is about twice as fast as iterating GetAtoms()
        atoms = list(map(mol.GetAtomWithIdx, range(n)))
        z = list(map(_get_z, atoms))
        self.z.extend(z)
        self.hs.extend(map(_get_hs, atoms))
        if plain:
            read = list(compress(atoms, [a != 6 for a in z]))  # carbons are known
            self.chg.extend(map(_get_chg, read))
            self.hyb.extend(map(_get_hyb, read))
        else:
            self.chi.extend(map(_get_chi, atoms) if chiral else repeat(0, n))
            self.chg.extend(map(_get_chg, atoms))
            self.rad.extend(map(_get_rad, atoms))
            self.hyb.extend(map(_get_hyb, atoms))
        self.aro.extend(map(_get_aro, atoms))
        self.ring.extend(map(_get_ring, atoms))
        if m:
            bonds = list(map(mol.GetBondWithIdx, range(m)))
            self.bu.extend(map(_get_begin, bonds))
            self.bv.extend(map(_get_end, bonds))
        if self.largest_fragment and n > 1:
            frags = Chem.GetMolFrags(mol)
            if len(frags) > 1:
                self.frag_keep.append((len(self.n_atoms), pick_fragment(frags, z)))
        self.n_atoms.append(n)
        self.n_bonds.append(m)
        self.plain.append(plain)

    def finish(self) -> GraphArrays:
        n_atoms = np.array(self.n_atoms, dtype=np.int64)
        n_bonds = np.array(self.n_bonds, dtype=np.int64)
        N = int(n_atoms.sum())
        node_off = np.zeros(n_atoms.shape[0] + 1, dtype=np.int64)
        np.cumsum(n_atoms, out=node_off[1:])
        shift = np.repeat(node_off[:-1], n_bonds)
        u = np.array(self.bu, dtype=np.int64) + shift
        v = np.array(self.bv, dtype=np.int64) + shift
        src = np.stack([u, v], axis=1).reshape(-1)
        dst = np.stack([v, u], axis=1).reshape(-1)
        # getTotalDegree() == getDegree() + getTotalNumHs(); the degree comes free from edges
        hs = np.array(self.hs, dtype=np.int64)
        deg = np.bincount(src, minlength=N)[:N] + hs
        z = np.array(self.z, dtype=np.int64)
        plain = np.repeat(np.array(self.plain, dtype=bool), n_atoms)
        known = plain & (z == 6)  # carbons of plain SMILES: charge 0, hybridization by degree
        chg = np.zeros(N, dtype=np.int64)
        chg[~known] = np.array(self.chg, dtype=np.int64)
        hyb = np.empty(N, dtype=np.int64)
        hyb[~known] = np.array(self.hyb, dtype=np.int64)
        hyb[known] = _CARBON_HYB[np.minimum(deg[known], _CARBON_HYB.shape[0] - 1)]
        if (hyb[known] < 0).any():  # pragma: no cover - impossible for a sanitized molecule
            raise RuntimeError("featurize: a carbon of a plain SMILES has an unexpected degree")
        chi = np.zeros(N, dtype=np.int64)
        chi[~plain] = np.array(self.chi, dtype=np.int64)
        rad = np.zeros(N, dtype=np.int64)
        rad[~plain] = np.array(self.rad, dtype=np.int64)
        x = _ogb_x(z, chi, hs, chg, rad, hyb, np.array(self.aro, dtype=np.int64),
                   np.array(self.ring, dtype=np.int64), deg)
        num_edges = 2 * n_bonds
        if self.frag_keep:
            return select_fragments(x, src, dst, n_atoms, num_edges, node_off, self.frag_keep)
        return GraphArrays(x=x, leaf_x=x, src=src, dst=dst, num_nodes=n_atoms,
                           num_edges=num_edges)


def mols_to_arrays(mols: Sequence[Chem.Mol], largest_fragment: bool = False) -> GraphArrays:
    """Featurize RDKit molecules into one :class:`GraphArrays` (OGB node features, both edge
    directions in RDKit bond order).

    Parameters
    ----------
    mols : sequence of rdkit.Chem.Mol
        Valid molecules (not None). Molecules with one atom or no bonds are fine; a molecule with
        zero atoms gives an empty graph.
    largest_fragment : bool
        Keep only the largest fragment of multi-fragment molecules (see module docstring).

    Returns
    -------
    GraphArrays
        ``x`` int64 [N, 9] (the OGB indices), ``leaf_x`` is the same array.
    """
    acc = _Accumulator(largest_fragment)
    for mol in mols:
        if mol is None:
            raise ValueError("mols_to_arrays got None (an RDKit parse failure?); "
                             "filter invalid molecules or use smiles_to_arrays")
        acc.add(mol)
    return acc.finish()


def _prepared(mol: Chem.Mol, text: str | None, largest_fragment: bool, max_atoms: int | None,
              standardizer: Standardizer | None, want_smiles: bool
              ) -> tuple[Chem.Mol | None, str | None, str | None]:
    """(molecule to featurize, the SMILES it is written as (``want_smiles`` or a
    standardizer, else None), error reason): standardised and in canonical atom order with a
    ``standardizer``; else as given, checked against ``max_atoms``, with the SMILES of what is
    scored (the kept fragment with ``largest_fragment``)."""
    if standardizer is not None:
        return standardize_mol(mol, standardizer, text, max_atoms, quiet=False)
    if max_atoms is not None and (err := size_error(mol, max_atoms, largest_fragment)):
        return None, None, err
    if not want_smiles:
        return mol, None, None
    frags = Chem.GetMolFrags(mol) if largest_fragment else ()
    if len(frags) > 1:
        keep = pick_fragment(frags, [a.GetAtomicNum() for a in mol.GetAtoms()])
        return mol, Chem.MolFragmentToSmiles(mol, atomsToUse=list(keep)), None
    return mol, Chem.MolToSmiles(mol), None


def smiles_to_arrays(smiles: Sequence[object], largest_fragment: bool = False,
                     max_atoms: int | None = None, standardizer: Standardizer | None = None,
                     smiles_out: list[str | None] | None = None,
                     mols_out: list[Chem.Mol | None] | None = None, featurize: bool = True
                     ) -> tuple[GraphArrays | None, list[str | None]]:
    """Parse and featurize SMILES (or take RDKit Mols as they are); never raises for any input
    value.

    ``max_atoms``: molecules with more atoms (:func:`size_error`) are not featurized; their
    reason is ``"too_large: N atoms (max_atoms=M)"`` (a plain SMILES is counted before parsing).
    None (the default) featurizes any size; scoring uses
    :data:`~molood.chem.limits.DEFAULT_MAX_ATOMS`.

    ``standardizer``: standardise every molecule and featurize it in canonical atom order
    (:mod:`molood.chem.standardize`; its fragment step replaces ``largest_fragment``). None:
    molecules as written (models from before standardisation).

    ``smiles_out``: a list that is extended with one entry per input: the SMILES of the
    molecule featurized (canonical; standardised with a ``standardizer``), None where not.
    ``mols_out``: likewise, the RDKit molecule featurized. ``featurize=False`` only parses
    and standardises (for ``mols_out``/``smiles_out``) and returns None for the arrays.

    Returns
    -------
    arrays : GraphArrays or None
        The valid molecules only, in input order (None with ``featurize=False``).
    errors : list of (str or None), one per input
        None for a valid molecule, else the reason: ``"empty"`` (None/NaN/blank/no atoms),
        ``"invalid_smiles: <RDKit message>"``, ``"standardize_error: ..."`` or
        ``"too_large: ..."``. RDKit's log output is captured, not printed.
    """
    acc = _Accumulator(largest_fragment and standardizer is None)
    add = acc.add if featurize else _no_featurization
    errors: list[str | None] = [None] * len(smiles)
    written: list[str | None] = [None] * len(smiles)
    prepared: list[Chem.Mol | None] = [None] * len(smiles)
    want = smiles_out is not None
    fragments = standardizer.largest_fragment if standardizer else largest_fragment
    from_smiles = Chem.MolFromSmiles
    with quiet_rdkit():
        for i, s in enumerate(smiles):
            mol, t = None, None
            chiral, plain = True, False
            if type(s) is str:
                t = s.strip()
                # RDKit's SMILES parser sets chiral tags only from '@' (or from CXSMILES data)
                chiral = "@" in t or "|" in t
                plain = is_plain_smiles(t)
                if (max_atoms is not None and plain and len(t) > max_atoms
                        and not (fragments and "." in t)
                        and (n_text := plain_smiles_atoms(t)) > max_atoms):
                    errors[i] = too_large(n_text, max_atoms)
                    continue
                if t and t.isascii() and "\x00" not in t:
                    try:
                        mol = from_smiles(t)
                    except Exception:  # noqa: BLE001 - diagnosed below
                        mol = None
            elif isinstance(s, Chem.Mol):
                mol = s
            if mol is None or mol.GetNumAtoms() == 0:
                if isinstance(s, Chem.Mol):
                    errors[i] = "empty"
                    continue
                mol, errors[i] = parse_smiles(s)  # slow path: capture the reason
                if mol is None:
                    continue
                chiral, plain, t = True, False, None
            mol, written[i], errors[i] = _prepared(mol, t, largest_fragment, max_atoms,
                                                   standardizer, want)
            if mol is None:
                continue
            if standardizer is not None:  # featurized from its canonical SMILES
                chiral, plain = "@" in written[i], is_plain_smiles(written[i])
            prepared[i] = mol
            add(mol, chiral, plain)
    if want:
        smiles_out.extend(written)
    if mols_out is not None:
        mols_out.extend(prepared)
    return (acc.finish() if featurize else None), errors


def _no_featurization(mol: Chem.Mol, chiral: bool = True, plain: bool = False) -> None:
    """What the featurizers call instead of ``_Accumulator.add`` with ``featurize=False``."""


def molblocks_to_arrays(blocks: Sequence[str | None], largest_fragment: bool = False,
                        max_atoms: int | None = None, standardizer: Standardizer | None = None,
                        smiles_out: list[str | None] | None = None,
                        mols_out: list[Chem.Mol | None] | None = None, featurize: bool = True
                        ) -> tuple[GraphArrays | None, list[str | None]]:
    """Like :func:`smiles_to_arrays` for MDL mol blocks (SDF records); reasons are ``"empty"``,
    ``"sdf_parse_error: <RDKit message>"``, ``"standardize_error: ..."`` or
    ``"too_large: ..."`` (``max_atoms``)."""
    acc = _Accumulator(largest_fragment and standardizer is None)
    add = acc.add if featurize else _no_featurization
    errors: list[str | None] = [None] * len(blocks)
    written: list[str | None] = [None] * len(blocks)
    prepared: list[Chem.Mol | None] = [None] * len(blocks)
    with quiet_rdkit():
        for i, b in enumerate(blocks):
            mol, errors[i] = parse_molblock(b)
            if mol is not None:
                mol, written[i], errors[i] = _prepared(mol, None, largest_fragment, max_atoms,
                                                       standardizer, smiles_out is not None)
            if mol is not None:
                prepared[i] = mol
                add(mol)
    if smiles_out is not None:
        smiles_out.extend(written)
    if mols_out is not None:
        mols_out.extend(prepared)
    return (acc.finish() if featurize else None), errors


def inputs_to_arrays(inputs: Sequence[object], kind: InputKind = "smiles",
                     largest_fragment: bool = False, max_atoms: int | None = None,
                     standardizer: Standardizer | None = None,
                     smiles_out: list[str | None] | None = None,
                     mols_out: list[Chem.Mol | None] | None = None, featurize: bool = True
                     ) -> tuple[GraphArrays | None, list[str | None]]:
    """Parse and featurize raw inputs of one kind: SMILES strings (or RDKit Mols,
    :func:`smiles_to_arrays`) or mol blocks (:func:`molblocks_to_arrays`). The one place that
    dispatches on the kind of a batch (library readers, screening, the accessor); never raises
    for an input value. Molecules above ``max_atoms`` get the reason ``too_large: ...`` (None:
    no cap); ``standardizer``, ``smiles_out``, ``mols_out`` and ``featurize`` as in
    :func:`smiles_to_arrays`."""
    fn = molblocks_to_arrays if check_kind(kind) == "molblock" else smiles_to_arrays
    return fn(inputs, largest_fragment=largest_fragment, max_atoms=max_atoms,
              standardizer=standardizer, smiles_out=smiles_out, mols_out=mols_out,
              featurize=featurize)
