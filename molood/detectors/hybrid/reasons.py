"""The ``molood_reason`` text of a flagged molecule: the hard rule it breaks, else the evidence
whose p-values are smallest (at most two phrases). numpy (+ RDKit for environments)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from molood.chem.profiles import Profiles
    from molood.detectors.hybrid.components import (
        DescriptorStats,
        EnvironmentCounts,
        MoleculeEvidence,
    )

__all__ = ["reason_text", "reason_components", "component_phrases", "flagged_reasons",
           "SECOND_REASON_P"]

SECOND_REASON_P = 0.05
"""A second component is named too when its p-value is at most this."""


def reason_components(pvalues: Mapping[str, float]) -> list[str]:
    """The components a reason names: the one with the smallest p-value, and the next one if
    its p-value is at most :data:`SECOND_REASON_P` (ties: component order)."""
    names = list(pvalues)
    order = sorted(names, key=lambda c: (pvalues[c], names.index(c)))
    return [c for i, c in enumerate(order[:2]) if i == 0 or pvalues[c] <= SECOND_REASON_P]


def reason_text(violations: Sequence[str], named: Sequence[str],
                details: Mapping[str, str]) -> str:
    """A short reason: the atom-type ``violations`` (first two, and how many more), else the
    phrases in ``details`` of the components ``named`` (:func:`reason_components`: the one
    with the smallest p-value, and the next one if its p-value is at most
    :data:`SECOND_REASON_P`)."""
    if violations:
        text = "; ".join(violations[:2])
        return text + (f" (+{len(violations) - 2} more)" if len(violations) > 2 else "")
    return "; ".join(details.get(c, c) for c in named)


def component_phrases(named: Sequence[str], mol: Any = None, desc_row: np.ndarray | None = None,
                      nearest_sim: float | None = None,
                      descriptors: DescriptorStats | None = None,
                      environments: EnvironmentCounts | None = None,
                      most_unusual: int | None = None) -> dict[str, str]:
    """The phrase of each component in ``named`` for one molecule (computed only for the
    components a flagged molecule's reason names): its standardised Mol, descriptor row,
    nearest-neighbour Tanimoto and the ID statistics they are read against
    (``most_unusual``: its most unusual descriptor, if known)."""
    out: dict[str, str] = {}
    for c in named:
        if c == "sego":
            out[c] = "unusual graph structure (SEGO)"
        elif c == "embedding":
            out[c] = "unusual graph structure (nearest training graphs in SEGO's embedding)"
        elif c == "knn":
            out[c] = f"nearest training molecule Tanimoto {nearest_sim:.2f}"
        elif c == "descriptors":
            out[c] = descriptors.reason(desc_row,  # type: ignore[union-attr,arg-type]
                                        most_unusual)
        elif c == "environments":
            u, t = environments.unseen(mol)  # type: ignore[union-attr]
            out[c] = f"{u} of {t} atom environments unseen"
    return out


def flagged_reasons(flag_rows: np.ndarray, pvalues: Mapping[str, np.ndarray],
                    evidence: MoleculeEvidence | None = None, prof: Profiles | None = None,
                    mols: Sequence[Any] = (), descriptors: DescriptorStats | None = None,
                    environments: EnvironmentCounts | None = None) -> list[str]:
    """The reason of each flagged row ``flag_rows`` (positions into the scored rows): its
    atom-type violations, else the phrases of its components with the smallest ``pvalues``
    (per component, [n]). Molecule models pass their :class:`MoleculeEvidence`, profiles,
    molecules (read only for environments) and ID statistics; graph models none of them."""
    pv_rows = {c: p[flag_rows].tolist() for c, p in pvalues.items()}
    most = (descriptors.most_unusual(prof.desc[flag_rows]).tolist()
            if evidence is not None and descriptors is not None else None)
    out: list[str] = []
    for i, j in enumerate(flag_rows.tolist()):
        viol = evidence.violations[j] if evidence is not None else []
        pv = {c: p[i] for c, p in pv_rows.items()}
        named = [] if viol else reason_components(pv)
        details = (component_phrases(named, mols[j], prof.desc[j],  # type: ignore[union-attr]
                                     evidence.nearest_similarity[j], descriptors,
                                     environments, most[i] if most else None)
                   if evidence is not None else component_phrases(named))
        out.append(reason_text(viol, named, details))
    return out
