"""The ``molood_reason`` text of a flagged molecule: the hard rule it breaks, else the evidence
whose p-values are smallest (at most two phrases). numpy only."""

from __future__ import annotations

from typing import Mapping, Sequence

__all__ = ["reason_text", "reason_components", "SECOND_REASON_P"]

SECOND_REASON_P = 0.05
"""A second component is named too when its p-value is at most this."""


def reason_components(pvalues: Mapping[str, float]) -> list[str]:
    """The components a reason names: the one with the smallest p-value, and the next one if
    its p-value is at most :data:`SECOND_REASON_P` (ties: component order)."""
    names = list(pvalues)
    order = sorted(names, key=lambda c: (pvalues[c], names.index(c)))
    return [c for i, c in enumerate(order[:2]) if i == 0 or pvalues[c] <= SECOND_REASON_P]


def reason_text(violations: Sequence[str], pvalues: Mapping[str, float],
                details: Mapping[str, str]) -> str:
    """A short reason: the atom-type ``violations`` (first two, and how many more), else the
    phrase in ``details`` of the component with the smallest p-value, and of the next one if
    its p-value is at most :data:`SECOND_REASON_P` (ties: component order)."""
    if violations:
        text = "; ".join(violations[:2])
        return text + (f" (+{len(violations) - 2} more)" if len(violations) > 2 else "")
    return "; ".join(details.get(c, c) for c in reason_components(pvalues))
