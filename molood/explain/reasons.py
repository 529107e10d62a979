"""Short, human-readable reasons why a molecule scores as it does: fixed rules, documented here.

Each rule reads what an explanation already holds (the detector's score terms, the atom
contributions and their noise level, the reference set's look-ups) and gives at most one
:class:`Reason`: a ``code`` (what reports count) and a ``text``. Rules, in the order they are
reported (thresholds in the units of the terms: SEGO's are z-scores, standard deviations of
held-out in-distribution molecules):

``unseen_element``
    An element of the molecule occurs in no reference molecule:
    ``element Se not in the training set (atom 1)``.
``unseen_environment``
    Atoms (other than those) whose Morgan environment of radius 0 (the atom type: element,
    degree, hydrogens, charge, ring membership) or radius 1 (with its neighbours) occurs in no
    reference molecule: ``2 atoms in environments unseen in training: N5, C7``.
``graph_structure``
    The molecule-level (global, and in faithful mode tree) term is at least
    :data:`TERM_SIGMA`: ``unusual graph structure (SEGO global term +5.5)``.
``local_atoms``
    The atom-level term is at least :data:`TERM_SIGMA`: the (up to 3) atoms whose contribution
    is largest and above the noise level drive it: ``atoms Sn6, C7, C8 drive the local term
    (+4.4)``; when no atom stands out above noise: ``the local term (+2.3) is spread over all
    atoms``.
``far_from_training``
    The nearest reference molecule has Tanimoto (Morgan r=2, 2048 bits) below
    :data:`FAR_TANIMOTO`: ``nearest training molecule Tanimoto 0.18 (ethanol)``.
``close_analogue``
    Flagged molecules only: the nearest reference molecule has Tanimoto at least
    :data:`CLOSE_TANIMOTO`: ``close training analogue, Tanimoto 0.82 (ethanol)``.

A molecule for which no rule fires gets ``no single driver`` (code ``diffuse``); a molecule
that was not scored gets its status (code ``not_scored``). Standard library + numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["Reason", "reasons", "REASON_TITLES", "TERM_SIGMA", "FAR_TANIMOTO", "CLOSE_TANIMOTO",
           "atom_label"]

TERM_SIGMA = 2.0
"""A score term this large (2 ID standard deviations) is named as a reason."""

FAR_TANIMOTO = 0.4
"""Nearest-neighbour Tanimoto below this: far from every training molecule."""

CLOSE_TANIMOTO = 0.7
"""Nearest-neighbour Tanimoto at or above this: a close analogue was trained on."""

_MAX_LISTED = 4


@dataclass(frozen=True)
class Reason:
    """One reason: ``code`` (a rule name of the module docstring) and its ``text``."""

    code: str
    text: str


def atom_label(symbols: Sequence[str], i: int) -> str:
    """``Se1``: an atom's element symbol and its (0-based, RDKit) index."""
    return f"{symbols[i]}{i}"


def _listing(symbols: Sequence[str], atoms: Sequence[int]) -> str:
    shown = ", ".join(atom_label(symbols, i) for i in atoms[:_MAX_LISTED])
    return shown + (", …" if len(atoms) > _MAX_LISTED else "")


def reasons(*, status: str, is_ood: bool | None, symbols: Sequence[str],
            terms: dict[str, float], atoms: np.ndarray | None, atom_term: str | None,
            noise: float | None, unseen_elements: dict[str, list[int]],
            unseen_radius: np.ndarray | None, neighbour: tuple[float, str] | None
            ) -> list[Reason]:
    """The reasons of one molecule (rules of the module docstring). ``neighbour``: (Tanimoto,
    label) of the nearest reference molecule, or None without a reference set."""
    if status != "ok":
        return [Reason("not_scored", f"not scored: {status}")]
    out: list[Reason] = []
    element_atoms = {i for ids in unseen_elements.values() for i in ids}
    if unseen_elements:
        els = sorted(unseen_elements, key=lambda e: unseen_elements[e][0])
        ids = [i for e in els for i in unseen_elements[e]]
        noun = "element" if len(els) == 1 else "elements"
        where = "atom" if len(ids) == 1 else "atoms"
        out.append(Reason("unseen_element", f"{noun} {', '.join(els)} not in the training set "
                                            f"({where} {', '.join(map(str, ids[:_MAX_LISTED]))})"))
    if unseen_radius is not None:
        new = [i for i in np.flatnonzero((unseen_radius >= 0) & (unseen_radius <= 1)).tolist()
               if i not in element_atoms]
        if new:
            n = len(new)
            out.append(Reason("unseen_environment",
                              f"{n} atom{'s' if n > 1 else ''} in environments unseen in "
                              f"training: {_listing(symbols, new)}"))
    structure = sum(v for k, v in terms.items() if k in ("global", "tree"))
    if structure >= TERM_SIGMA:
        out.append(Reason("graph_structure", f"unusual graph structure (SEGO global term "
                                             f"{structure:+.1f})"))
    local = terms.get(atom_term) if atom_term else None
    if local is not None and atoms is not None and local >= TERM_SIGMA:
        floor = noise if noise is not None else 0.0
        order = [i for i in np.argsort(-atoms, kind="stable").tolist() if atoms[i] > floor][:3]
        if order:
            noun = "atom" if len(order) == 1 else "atoms"
            verb = "drives" if len(order) == 1 else "drive"
            out.append(Reason("local_atoms", f"{noun} {_listing(symbols, order)} {verb} the "
                                             f"{atom_term} term ({local:+.1f})"))
        else:
            out.append(Reason("local_diffuse", f"the {atom_term} term ({local:+.1f}) is spread "
                                               "over all atoms"))
    if neighbour is not None:
        sim, label = neighbour
        if sim < FAR_TANIMOTO:
            out.append(Reason("far_from_training",
                              f"nearest training molecule Tanimoto {sim:.2f} ({label})"))
        elif is_ood and sim >= CLOSE_TANIMOTO:
            out.append(Reason("close_analogue",
                              f"close training analogue, Tanimoto {sim:.2f} ({label})"))
    return out or [Reason("diffuse", "no single driver")]


REASON_TITLES = {
    "unseen_element": "element not in the training set",
    "unseen_environment": "atom environments unseen in training",
    "graph_structure": f"unusual graph structure (global term ≥ {TERM_SIGMA:g})",
    "local_atoms": f"a few atoms drive the local term (≥ {TERM_SIGMA:g})",
    "local_diffuse": "local term spread over all atoms",
    "far_from_training": f"nearest training molecule Tanimoto < {FAR_TANIMOTO:g}",
    "close_analogue": f"close training analogue (Tanimoto ≥ {CLOSE_TANIMOTO:g})",
    "diffuse": "no single driver",
    "not_scored": "not scored",
}
"""A heading per reason code, for summaries."""
