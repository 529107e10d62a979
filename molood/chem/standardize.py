"""Molecule standardisation: the one place where a molecule becomes the form a model scores.

A :class:`Standardizer` is a frozen, JSON-able choice of RDKit ``rdMolStandardize`` steps. A
model chooses it at fit time and stores it in its model file (``featurizer.standardize``), and
fitting and scoring both featurize through it, so a library is scored exactly as the training
set was prepared. Steps, in the order they run:

``isotopes``
    Remove isotope labels (``[13C]`` -> ``C``; deuterium becomes implicit hydrogen), so that
    CD3OD scores as methanol.
``cleanup``
    RDKit's ``Cleanup``: remove explicit hydrogens, disconnect metals, apply RDKit's default
    functional-group normalizations (nitro, N-oxides, azides, sulfoxides, ... to one form) and
    reionize (the most acidic site carries the charge).
``largest_fragment``
    Keep the largest fragment (``LargestFragmentChooser``: most atoms, then mass, then SMILES;
    independent of how the record was written): strips counter-ions, salts and solvents.
``neutralize``
    ``Uncharger``: neutralise acids and bases where a neutral form exists (quaternary N and
    zwitterions that cannot be neutralised keep their charges).
``tautomer``
    RDKit's canonical tautomer (``TautomerEnumerator.Canonicalize``). Off by default: it costs
    ~1.7 ms per drug-like molecule (the other steps together ~0.05 ms on typical SMILES).

Whatever the steps, the result is then put in **canonical atom order**: the standardised
molecule is written as RDKit's canonical SMILES and re-parsed, so that any spelling of a
molecule (``CCO``, ``OCC``, any atom order of an SD record) gives the very same graph and the
very same score. That SMILES is what a screen's ``molood_smiles`` column holds. (When the input
already is that canonical SMILES, the re-parse is skipped: it would give the same molecule.)

Steps run only when they can change the molecule (molecules in a screen mostly need none of
them): isotopes, hydrogens and metals need bracket atoms in a SMILES (checked on the text, else
by one substructure query each); charge-dependent steps need a charged atom; the normalizations
need a charged atom or one of the few neutral groups RDKit's default rules rewrite (pentavalent
N/P/As/Sb with two double bonds, aromatic N=X, N#N, three-connected S=X: :data:`_DOUBLE_RULES`);
the fragment step needs two fragments. ``tests/chem/test_standardize.py`` checks that this
gives exactly what running every RDKit step unconditionally gives.

Models written before standardisation existed have none (``standardize=None``): their
molecules are scored as written, atom order included, as those models always did.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from rdkit import Chem
from rdkit.Chem.MolStandardize import rdMolStandardize

from molood.chem.limits import too_large
from molood.chem.parse import quiet_rdkit

__all__ = [
    "DEFAULT_STANDARDIZE",
    "PRESETS",
    "STEPS",
    "Standardized",
    "Standardizer",
    "featurizer_settings",
    "resolve_standardizer",
    "standardize_mol",
]

STEPS = ("isotopes", "cleanup", "largest_fragment", "neutralize", "tautomer")
"""The standardisation steps, in the order they run."""

_ALIASES = {"fragment": "largest_fragment", "largest-fragment": "largest_fragment",
            "neutralise": "neutralize", "isotope": "isotopes", "tautomers": "tautomer"}

DEFAULT_STANDARDIZE = "default"
"""The standardisation a new model gets unless told otherwise (:data:`PRESETS`)."""


@dataclass(frozen=True)
class Standardizer:
    """Which standardisation steps run (module docstring); immutable and JSON-able.

    The default instance is the ``"default"`` preset: cleanup, largest fragment, neutralise,
    remove isotopes; no canonical tautomer. Every configuration, ``"none"`` (all steps off)
    included, scores the canonical atom order.
    """

    isotopes: bool = True
    cleanup: bool = True
    largest_fragment: bool = True
    neutralize: bool = True
    tautomer: bool = False

    def to_dict(self) -> dict[str, bool]:
        """``{step: on}`` for every step of :data:`STEPS` (what a model file stores)."""
        return {k: bool(getattr(self, k)) for k in STEPS}

    @property
    def spec(self) -> str:
        """The shortest string :func:`resolve_standardizer` turns back into this configuration:
        a preset name, the steps that are on (``"cleanup,largest_fragment"``), or the default
        preset and the steps that differ (``"default,tautomer"``)."""
        for name, preset in PRESETS.items():
            if preset == self:
                return name
        mine, default = self.to_dict(), PRESETS[DEFAULT_STANDARDIZE].to_dict()
        steps = [k for k in STEPS if mine[k]]
        diff = [k if mine[k] else f"-{k}" for k in STEPS if mine[k] != default[k]]
        return ",".join(steps if len(steps) <= len(diff) else [DEFAULT_STANDARDIZE, *diff])

    def describe(self) -> str:
        """The configuration in words, one line (for logs and reports)."""
        words = {"isotopes": "isotopes removed", "cleanup": "cleanup",
                 "largest_fragment": "largest fragment", "neutralize": "neutralised",
                 "tautomer": "canonical tautomer"}
        on = [words[k] for k in STEPS if getattr(self, k)]
        return f"{self.spec}: {', '.join(on) or 'no chemical changes'}; canonical atom order"


PRESETS: dict[str, Standardizer] = {
    "default": Standardizer(),
    "none": Standardizer(isotopes=False, cleanup=False, largest_fragment=False,
                         neutralize=False, tautomer=False),
}
"""Named configurations: ``"default"`` (isotopes, cleanup, largest fragment, neutralise) and
``"none"`` (no chemical change, canonical atom order only)."""


def resolve_standardizer(spec: Any) -> Standardizer | None:
    """The :class:`Standardizer` a ``standardize`` parameter value names.

    ``None``: no standardisation at all (models from before it existed: molecules as written).
    A :class:`Standardizer`: itself. A string: comma- (or ``+``-) separated tokens applied
    left to right to an all-off start: a preset name (``"default"``, ``"none"``), a step name
    (``"tautomer"``; ``"fragment"`` and ``"neutralise"`` are accepted too) to switch it on, or
    ``-step`` to switch it off, e.g. ``"default,tautomer"`` or ``"default,-isotopes"``. A
    mapping ``{step: bool}``: the default preset with those steps changed. A JSON object
    string (``'{"tautomer": true}'``) is read as a mapping. ValueError for an unknown name or
    step, TypeError for a value of another type.
    """
    if spec is None or isinstance(spec, Standardizer):
        return spec
    if isinstance(spec, str) and spec.strip().startswith("{"):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise ValueError(f"standardize: not a valid JSON object: {spec!r}") from exc
    if isinstance(spec, Mapping):
        changes = {_step(k): _flag(k, v) for k, v in spec.items()}
        return dataclasses.replace(PRESETS[DEFAULT_STANDARDIZE], **changes)
    if not isinstance(spec, str):
        raise TypeError(f"standardize must be None, a preset name, a step list or a mapping, "
                        f"got {type(spec).__name__}")
    state = PRESETS["none"].to_dict()
    tokens = [t.strip().lower() for t in spec.replace("+", ",").split(",")]
    if not any(tokens):
        raise ValueError("standardize: empty specification (use 'none' for no steps)")
    for tok in tokens:
        if not tok:
            continue
        if tok in PRESETS:
            state = PRESETS[tok].to_dict()
        elif tok.startswith("-"):
            state[_step(tok[1:])] = False
        else:
            state[_step(tok)] = True
    return Standardizer(**state)


def featurizer_settings(standardize: Any, largest_fragment: bool | None
                        ) -> tuple[Standardizer | None, bool]:
    """What a detector's ``standardize`` and ``largest_fragment`` parameters mean together:
    ``(standardizer, largest_fragment of the featurizer)``.

    With standardisation, ``largest_fragment`` True/False switches its fragment step on/off
    (None: as the standardisation says) and the featurizer keeps every atom it is given.
    Without (``standardize=None``: models from before it existed), ``largest_fragment`` is the
    featurizer's own rule (:mod:`molood.chem.fragments`), as it always was.
    """
    if largest_fragment not in (None, True, False):
        raise ValueError(f"largest_fragment must be None, True or False, got {largest_fragment!r}")
    std = resolve_standardizer(standardize)
    if std is None:
        return None, bool(largest_fragment)
    if largest_fragment is not None and std.largest_fragment != bool(largest_fragment):
        std = dataclasses.replace(std, largest_fragment=bool(largest_fragment))
    return std, False


def _step(name: Any) -> str:
    key = _ALIASES.get(str(name).strip().lower(), str(name).strip().lower())
    if key not in STEPS:
        raise ValueError(f"standardize: unknown step {name!r}; steps are {list(STEPS)}, "
                         f"presets {list(PRESETS)}")
    return key


def _flag(name: Any, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"standardize: step {name!r} must be true or false, got {value!r}")
    return value


class Standardized(NamedTuple):
    """The result of :func:`standardize_mol` for one molecule."""

    mol: Chem.Mol | None
    """the standardised molecule in canonical atom order (None on error)"""
    smiles: str | None
    """its canonical SMILES (None on error)"""
    error: str | None
    """None, or why the molecule cannot be scored (:func:`standardize_mol`)"""


# Single-atom (or two-atom) queries that decide whether a step can change a molecule.
_Q = Chem.MolFromSmarts
_ISOTOPE = _Q("[!0*]")
_HYDROGEN = _Q("[#1]")
_CHARGED = _Q("[!+0]")
_METAL = _Q("[!#0;!#1;!#2;!#5;!#6;!#7;!#8;!#9;!#10;!#14;!#15;!#16;!#17;!#18;!#33;!#34;!#35;"
            "!#36;!#52;!#53;!#54;!#85;!#86]")
"""Any atom other than the non-metals and metalloids RDKit's MetalDisconnector never cuts."""
_DOUBLE_RULES = _Q("[#7,#15,#16,#33,#51;X3,a]=*")
_TRIPLE_RULES = _Q("[#7]#[#7]")
"""Supersets of the reactants of RDKit's default normalizations that need no charged atom: a
three-connected N/P/As/Sb with a double bond ("nitro to N+(O-)=O" wants two), an aromatic N
with an exocyclic double bond ("pyridine oxide"), a three-connected S with a double bond
("sulfoxide"); N#N ("azide", "diazo/azo"; a triple bond is always written ``#`` in a SMILES).
Every other default rule matches a charged atom."""


class _Tools:
    """The RDKit standardisation objects, built once per process (building a Normalizer costs
    ~0.3 ms, several times the work of normalizing a molecule)."""

    def __init__(self) -> None:
        self.normalizer = rdMolStandardize.Normalizer()
        self.metals = rdMolStandardize.MetalDisconnector()
        self.reionizer = rdMolStandardize.Reionizer()
        self.chooser = rdMolStandardize.LargestFragmentChooser()
        self.uncharger = rdMolStandardize.Uncharger(canonicalOrder=True)
        self._tautomers: Any = None

    @property
    def tautomers(self) -> Any:
        if self._tautomers is None:
            self._tautomers = rdMolStandardize.TautomerEnumerator()
        return self._tautomers


_TOOLS: _Tools | None = None


def _tools() -> _Tools:
    global _TOOLS
    if _TOOLS is None:
        _TOOLS = _Tools()
    return _TOOLS


def _strip_isotopes(mol: Chem.Mol) -> Chem.Mol:
    """A copy without isotope labels; hydrogens that were isotopes become implicit."""
    mol = Chem.RWMol(mol)
    for atom in mol.GetAtoms():
        atom.SetIsotope(0)
    return Chem.RemoveHs(mol.GetMol())


def _cleanup(mol: Chem.Mol, text: str | None) -> tuple[Chem.Mol, bool | None]:
    """RDKit's ``Cleanup`` (remove Hs, disconnect metals, normalize, reionize), each part only
    where it can change the molecule (``text``: the SMILES it was parsed from, if any).
    Returns the molecule and whether it has a charged atom (None: not known)."""
    t = _tools()
    brackets = text is None or "[" in text  # explicit H atoms and metals need brackets
    if brackets and mol.HasSubstructMatch(_HYDROGEN):
        mol = Chem.RemoveHs(mol)
    if brackets and mol.HasSubstructMatch(_METAL):
        mol = t.metals.Disconnect(mol)
    charged = mol.HasSubstructMatch(_CHARGED)
    if charged or mol.HasSubstructMatch(_DOUBLE_RULES) or (
            (text is None or "#" in text) and mol.HasSubstructMatch(_TRIPLE_RULES)):
        mol = t.normalizer.normalize(mol)
        charged = mol.HasSubstructMatch(_CHARGED)
    if charged:
        return t.reionizer.reionize(mol), None
    return mol, charged


def _standardize(mol: Chem.Mol, std: Standardizer, text: str | None) -> Chem.Mol:
    """The chemical steps of ``std`` (without canonical ordering); the input is not changed.
    ``text``: the SMILES ``mol`` was parsed from, if any (lets steps be skipped cheaply)."""
    brackets = text is None or "[" in text  # isotopes need brackets
    if std.isotopes and brackets and mol.HasSubstructMatch(_ISOTOPE):
        mol = _strip_isotopes(mol)
    charged = None  # whether ``mol`` has a charged atom, where known
    if std.cleanup:
        mol, charged = _cleanup(mol, text)
    if (std.largest_fragment and (text is None or "." in text or brackets)
            and len(Chem.GetMolFrags(mol)) > 1):
        mol, charged = _tools().chooser.choose(mol), None
    if std.neutralize and (mol.HasSubstructMatch(_CHARGED) if charged is None else charged):
        mol = _tools().uncharger.uncharge(mol)
    if std.tautomer:
        mol = _tools().tautomers.Canonicalize(mol)
    return mol


def _too_large_before(mol: Chem.Mol, std: Standardizer, text: str | None,
                      max_atoms: int | None) -> str | None:
    """``too_large`` before any work, when even the standardised molecule must stay above
    ``max_atoms``: standardisation removes hydrogens and fragments, never heavy atoms of the
    fragment it keeps, so more heavy atoms than the cap and nothing to split off is enough."""
    if max_atoms is None or (n := mol.GetNumHeavyAtoms()) <= max_atoms:
        return None
    if std.largest_fragment and ((text is None or "." in text or "[" in text) and (
            len(Chem.GetMolFrags(mol)) > 1 or mol.HasSubstructMatch(_METAL))):
        return None
    return too_large(n, max_atoms)


def standardize_mol(mol: Chem.Mol, std: Standardizer, text: str | None = None,
                    max_atoms: int | None = None, quiet: bool = True) -> Standardized:
    """Standardise one molecule and put it in canonical atom order (module docstring).

    Parameters
    ----------
    mol : rdkit.Chem.Mol
        A sanitized molecule; it is not modified.
    std : Standardizer
    text : str, optional
        The SMILES ``mol`` was parsed from (stripped). Lets steps that cannot apply be skipped,
        and the canonical re-parse when ``text`` already is the canonical SMILES.
    max_atoms : int, optional
        Refuse a result with more atoms (reason ``"too_large: N atoms (max_atoms=M)"``, see
        :mod:`molood.chem.limits`); a molecule that must stay above it is refused before any
        step runs.
    quiet : bool, default True
        Block RDKit's log messages (callers that already do may pass False).

    Returns
    -------
    Standardized
        ``(mol, smiles, None)``, or ``(None, None, reason)``: ``"standardize_error: ..."``,
        ``"too_large: ..."`` or ``"empty"`` (nothing left, e.g. ``[2H][2H]``). Never raises
        for a molecule.
    """
    if quiet:
        with quiet_rdkit():
            return standardize_mol(mol, std, text, max_atoms, quiet=False)
    if (err := _too_large_before(mol, std, text, max_atoms)) is not None:
        return Standardized(None, None, err)
    try:
        out = _standardize(mol, std, text)
        smiles = Chem.MolToSmiles(out)
        can = mol if smiles == text else Chem.MolFromSmiles(smiles)  # same string, same mol
    except Exception as exc:  # noqa: BLE001 - RDKit raises many exception types
        return Standardized(None, None, f"standardize_error: {type(exc).__name__}: {exc}"[:300])
    if not smiles:
        return Standardized(None, None, "empty")
    if can is None:
        return Standardized(None, None, "standardize_error: the standardised molecule's "
                                        f"canonical SMILES does not parse ({smiles[:200]!r})")
    if max_atoms is not None and can.GetNumAtoms() > max_atoms:
        return Standardized(None, None, too_large(can.GetNumAtoms(), max_atoms))
    return Standardized(can, smiles, None)
