"""``det.explain(molecules)``: why each molecule scores as it does.

For every molecule an :class:`Explanation` holds

- the score, p-value and flag, and the score's **terms** (:meth:`BaseDetector.score_terms
  <molood.detectors.base.BaseDetector.score_terms>`): for SEGO ``global`` (whole molecule) and
  ``local`` (atom level), which add up to the score;
- the **atom contributions** ``atoms``: the local term split over the atoms (SEGO:
  ``c_i = (ℓ_i − μ_n)/(σ_n·n)``, :mod:`molood.detectors.sego.attribution`); they sum to the local
  term; ``c_i > 0`` = atom i makes the molecule look more OOD, in units of ID standard
  deviations of the local term; None for detectors without an atom-level term;
- ``noise``: the level above which a contribution stands out in *this* molecule. Contributions
  shrink with size (SEGO: ``c_i = d_i / n`` with ``d_i = (ℓ_i − μ_n)/σ_n`` a per-atom z-score),
  so the level is ``d₉₉ / n``, with ``d₉₉`` the 99th percentile of ``|d_i|`` over the atoms of up
  to 256 held-out calibration molecules of the reference set (its molecules, if it marks none):
  ~1 % of in-distribution atoms exceed it;
- from the reference set (:mod:`molood.explain.reference`), whatever the detector: the ``k``
  nearest reference molecules (Tanimoto on Morgan r=2, 2048 bits), the atoms whose Morgan
  environment (radius ≤ 1) and the elements that no reference molecule has;
- **reasons** (:mod:`molood.explain.reasons`), joined as ``reason``.

Rendering (text, SVG, HTML) is in :mod:`molood.explain.render`. No torch at import; a detector
brings its own.
"""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from molood.chem.reference import ReferenceSet
from molood.detectors.terms import ScoreTerms
from molood.explain.reasons import Reason, reasons

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.base import BaseDetector

__all__ = ["Neighbour", "Explanation", "explain", "explain_scored", "atom_noise",
           "NOISE_QUANTILE", "NOISE_MOLECULES"]

NOISE_QUANTILE = 0.99
NOISE_MOLECULES = 256
_LABEL_CHARS = 40

_NOISE_CACHE: "weakref.WeakKeyDictionary[Any, dict[int, float | None]]" = (
    weakref.WeakKeyDictionary())


@dataclass(frozen=True)
class Neighbour:
    """A reference molecule near the query: its position in the reference set, canonical
    SMILES, name ("" if none), Tanimoto similarity and whether it was a calibration (held-out)
    molecule rather than a trained-on one."""

    index: int
    smiles: str
    name: str
    similarity: float
    calibration: bool = False

    @property
    def label(self) -> str:
        """The name, or the SMILES where there is none."""
        return self.name or self.smiles


@dataclass(eq=False)
class Explanation:
    """Why one molecule scores as it does (module docstring). ``str()`` gives a readable text,
    ``to_svg()`` a depiction beside its nearest neighbour, and in Jupyter it shows as both."""

    input: str
    smiles: str | None
    status: str
    score: float
    pvalue: float
    is_ood: bool | None
    fpr: float | None
    terms: dict[str, float] = field(default_factory=dict)
    atoms: np.ndarray | None = None
    atom_term: str | None = None
    noise: float | None = None
    unseen_radius: np.ndarray | None = None
    unseen_elements: dict[str, list[int]] = field(default_factory=dict)
    neighbours: list[Neighbour] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)
    meaning: dict[str, str] = field(default_factory=dict)
    label: str | None = None
    mol: Any = field(default=None, repr=False)

    @property
    def reason(self) -> str:
        """The reasons as one line."""
        return "; ".join(r.text for r in self.reasons)

    @property
    def verdict(self) -> str:
        """``flagged OOD at fpr 0.05 (p = 0.0154)``, ``not flagged ...`` or ``not scored``."""
        if self.status != "ok" or not np.isfinite(self.score):
            return "not scored"
        what = "flagged OOD" if self.is_ood else "not flagged"
        at = f" at fpr {self.fpr:g}" if self.fpr is not None else ""
        return f"{what}{at} (p = {self.pvalue:.3g})"

    @property
    def marked_atoms(self) -> list[int]:
        """Atoms of unseen elements or in environments (radius ≤ 1) unseen in the reference."""
        marked = {i for ids in self.unseen_elements.values() for i in ids}
        if self.unseen_radius is not None:
            marked.update(np.flatnonzero((self.unseen_radius >= 0)
                                         & (self.unseen_radius <= 1)).tolist())
        return sorted(marked)

    def svg(self, size: tuple[int, int] = (320, 240)) -> str | None:
        """Inline SVG of the molecule, atoms coloured by contribution (None if unparseable)."""
        from molood.explain.render import molecule_svg

        return molecule_svg(self, size)

    def neighbour_svg(self, size: tuple[int, int] = (320, 240)) -> str | None:
        """Inline SVG of the nearest reference molecule (None without one)."""
        from molood.explain.render import neighbour_svg

        return neighbour_svg(self, size)

    def to_svg(self) -> str:
        """A standalone SVG document: the molecule beside its nearest reference molecule."""
        from molood.explain.render import explanation_svg

        return explanation_svg(self)

    def to_text(self) -> str:
        """A readable multi-line account (what ``molood explain`` prints)."""
        from molood.explain.render import explanation_text

        return explanation_text(self)

    __str__ = to_text

    def _repr_html_(self) -> str:
        from molood.explain.render import explanation_html

        return explanation_html(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields (atoms as a list, neighbours as dicts, reasons as texts)."""
        return {"input": self.input, "label": self.label, "smiles": self.smiles,
                "status": self.status, "score": _num(self.score), "pvalue": _num(self.pvalue),
                "is_ood": self.is_ood, "fpr": self.fpr, "terms": self.terms,
                "atoms": None if self.atoms is None else [float(a) for a in self.atoms],
                "atom_term": self.atom_term, "noise": self.noise,
                "marked_atoms": self.marked_atoms, "unseen_elements": self.unseen_elements,
                "neighbours": [vars(n) for n in self.neighbours], "reason": self.reason,
                "reasons": [vars(r) for r in self.reasons], "meaning": self.meaning}


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _short(text: str) -> str:
    return text if len(text) <= _LABEL_CHARS else text[:_LABEL_CHARS - 1] + "…"


def atom_noise(det: "BaseDetector", ref: ReferenceSet | None) -> float | None:
    """``d₉₉``, the size-free noise level of ``det``'s atom contributions (module docstring;
    divide by a molecule's ``atom_scale`` for its level), None without a reference set or
    atom-level terms. Cached per detector and reference set."""
    if ref is None or len(ref) == 0:
        return None
    cache = _NOISE_CACHE.setdefault(det, {})
    if id(ref) in cache:
        return cache[id(ref)]
    pool = np.flatnonzero(ref.calibration)
    if pool.size == 0:
        pool = np.arange(len(ref))
    pick = np.unique(pool[np.linspace(0, pool.size - 1, min(NOISE_MOLECULES, pool.size))
                          .astype(np.int64)])
    vals = [np.abs(t.atoms) * t.atom_scale
            for t in det.score_terms([ref.smiles[i] for i in pick.tolist()])
            if t.atoms is not None and t.atom_scale and t.atom_scale > 1]
    level = float(np.quantile(np.concatenate(vals), NOISE_QUANTILE)) if vals else None
    cache[id(ref)] = level
    return level


def _parse(item: Any) -> tuple[Any, str]:
    """(RDKit molecule or None, the input as text)."""
    from rdkit import Chem

    from molood.chem.parse import parse

    if isinstance(item, str):
        return parse(item)[0], item
    if isinstance(item, Chem.Mol):
        return item, Chem.MolToSmiles(item)
    return None, "" if item is None else str(item)


def _one(item: Any, t: ScoreTerms, pvalue: float, is_ood: bool | None, fpr: float | None,
         ref: ReferenceSet | None, k: int, noise: float | None, label: str | None
         ) -> Explanation:
    from rdkit import Chem

    mol, text = _parse(item)
    if t.mol is not None:  # the detector scored a standardised form: explain that molecule
        mol = t.mol
    ok = t.status == "ok" and mol is not None and mol.GetNumAtoms() > 0
    smiles = Chem.MolToSmiles(mol) if mol is not None else None
    atoms = t.atoms if (t.atoms is not None and mol is not None
                        and t.atoms.shape[0] == mol.GetNumAtoms()) else None
    if noise is not None:
        noise = noise / t.atom_scale if atoms is not None and t.atom_scale else None
    neighbours: list[Neighbour] = []
    unseen_r, unseen_el = None, {}
    if ref is not None and ok:
        neighbours = [Neighbour(i, ref.smiles[i], ref.names[i] if ref.names else "", sim,
                                bool(ref.calibration[i])) for i, sim in ref.nearest(mol, k)]
        unseen_r, unseen_el = ref.unseen_radius(mol), ref.unseen_elements(mol)
    symbols = [a.GetSymbol() for a in mol.GetAtoms()] if mol is not None else []
    nearest = (neighbours[0].similarity, _short(neighbours[0].label)) if neighbours else None
    why = reasons(status=t.status, is_ood=is_ood, symbols=symbols, terms=t.terms, atoms=atoms,
                  atom_term=t.atom_term, noise=noise, unseen_elements=unseen_el,
                  unseen_radius=unseen_r, neighbour=nearest)
    return Explanation(input=text, smiles=smiles, status=t.status, score=t.score,
                       pvalue=pvalue, is_ood=is_ood if t.status == "ok" else None, fpr=fpr,
                       terms=dict(t.terms), atoms=atoms, atom_term=t.atom_term, noise=noise,
                       unseen_radius=unseen_r, unseen_elements=unseen_el, neighbours=neighbours,
                       reasons=why, meaning=dict(t.meaning), label=label, mol=mol)


def explain(det: "BaseDetector", X: Any, *, k: int = 3, reference: Any = None,
            fpr: float | None = None, labels: Sequence[str | None] | None = None,
            model_path: str | os.PathLike | None = None) -> list[Explanation]:
    """One :class:`Explanation` per input of ``X`` (SMILES, RDKit Mols; as ``det.score``).

    Parameters
    ----------
    det : BaseDetector
        A fitted detector; its :meth:`score_terms` gives the terms and atom contributions.
    k : int
        Nearest reference molecules to list.
    reference : ReferenceSet, list of SMILES, or a library file path, optional
        Molecules to look neighbours up in, for a model without a reference set (else the
        model's own, or a verified sidecar: :func:`~molood.explain.reference.resolve_reference`).
    fpr : float, optional
        The false-positive rate of the flag (default the model's).
    labels : sequence of str, optional
        A label (ID, name) per input.
    model_path : path, optional
        The model file ``det`` was loaded from (to find its sidecar reference set).
    """
    from molood.detectors.inputs import as_list
    from molood.explain.reference import resolve_reference

    items = as_list(X)
    ref = resolve_reference(det, reference, model_path)
    terms = det.score_terms(items)
    fpr_ = det._resolve_fpr(fpr)
    scores = np.array([t.score for t in terms], dtype=np.float64)
    pvalues = det.pvalues_from_scores(scores)
    noise = atom_noise(det, ref) if any(t.atoms is not None for t in terms) else None
    return [_one(it, t, float(p), bool(p <= fpr_) if np.isfinite(p) else None, fpr_, ref, k,
                 noise, labels[i] if labels is not None else None)
            for i, (it, t, p) in enumerate(zip(items, terms, pvalues))]


def explain_scored(items: Sequence[Any], scores: Sequence[float], pvalues: Sequence[float],
                   is_ood: Sequence[bool | None], statuses: Sequence[str], *,
                   fpr: float | None, reference: ReferenceSet | None, k: int = 1,
                   labels: Sequence[str | None] | None = None) -> list[Explanation]:
    """Explanations without a detector, for molecules already scored (a screen's rows):
    neighbours and reference-based reasons only, no terms and no atom contributions."""
    out = []
    for i, it in enumerate(items):
        t = ScoreTerms(float(scores[i]), statuses[i])
        out.append(_one(it, t, float(pvalues[i]), is_ood[i], fpr, reference, k, None,
                        labels[i] if labels is not None else None))
    return out
