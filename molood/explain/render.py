"""Explanations as text (``molood explain``), SVG (``--svg``) and HTML (Jupyter, reports)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np

from molood.explain.depict import depict, side_by_side

if TYPE_CHECKING:  # pragma: no cover
    from molood.explain.core import Explanation

__all__ = ["molecule_svg", "neighbour_svg", "explanation_svg", "explanation_text",
           "explanation_html", "COLOUR_NOTE", "terms_line"]

COLOUR_NOTE = ("red: the atom makes the molecule look more OOD, blue: more typical "
               "(share of the atom-level term); *: environment or element unseen in training")

_MAX_ATOM_ROWS = 25


def molecule_svg(e: "Explanation", size: tuple[int, int] = (320, 240)) -> str | None:
    """The molecule, atoms coloured by contribution and unseen ones marked (None if there is
    no molecule to draw)."""
    if e.mol is None or e.mol.GetNumAtoms() == 0:
        return None
    return depict(e.mol, e.atoms, scale=e.noise, marked=e.marked_atoms, size=size)


def neighbour_svg(e: "Explanation", size: tuple[int, int] = (320, 240)) -> str | None:
    """The nearest reference molecule, plain (None without one)."""
    if not e.neighbours:
        return None
    from molood.chem.parse import parse

    mol = parse(e.neighbours[0].smiles)[0]
    return depict(mol, size=size) if mol is not None else None


def _title(e: "Explanation") -> str:
    name = e.label or e.input or e.smiles or ""
    return name if len(name) <= 48 else name[:47] + "…"


def terms_line(e: "Explanation") -> str:
    """``score 7.93 = global -0.40 + local +8.33`` (or just the score)."""
    if not np.isfinite(e.score):
        return "not scored"
    parts = [f"{k} {v:+.2f}" for k, v in e.terms.items() if k != "score"]
    return f"score {e.score:.2f}" + (" = " + " ".join(parts) if parts else "")


def explanation_svg(e: "Explanation") -> str:
    """A standalone SVG document: the molecule (coloured) beside its nearest reference
    molecule, captions under each, the colour legend at the bottom."""
    panels = []
    q = molecule_svg(e)
    if q is not None:
        panels.append((q, f"{_title(e)}: score {e.score:.2f}"))
    nb = neighbour_svg(e)
    if nb is not None:
        n = e.neighbours[0]
        label = n.label if len(n.label) <= 36 else n.label[:35] + "…"
        panels.append((nb, f"nearest training molecule {label}, Tanimoto {n.similarity:.2f}"))
    if not panels:
        panels.append((depict(_empty()), f"{_title(e)}: {e.status}"))
    return side_by_side(panels, note=COLOUR_NOTE if e.atoms is not None else "")


def _empty():  # type: ignore[no-untyped-def]
    from rdkit import Chem

    return Chem.Mol()


def explanation_text(e: "Explanation") -> str:
    """The multi-line account ``molood explain`` prints."""
    lines = [f"{_title(e)}" + (f"  ({e.smiles})" if e.label and e.smiles else ""),
             f"  {terms_line(e)}; {e.verdict}", f"  why: {e.reason}"]
    if e.atoms is not None and e.mol is not None:
        noise = f"noise level {e.noise:.3f}" if e.noise is not None else "noise level unknown"
        lines.append(f"  atom contributions to the {e.atom_term} term (sum {e.atoms.sum():+.3f};"
                     f" > 0 = more OOD; {noise}; * = unseen in training):")
        marked = set(e.marked_atoms)
        order = list(range(len(e.atoms)))
        if len(order) > _MAX_ATOM_ROWS:
            order = sorted(np.argsort(-e.atoms, kind="stable")[:_MAX_ATOM_ROWS].tolist())
            lines.append(f"    (the {_MAX_ATOM_ROWS} largest of {len(e.atoms)} atoms)")
        for i in order:
            sym = e.mol.GetAtomWithIdx(i).GetSymbol()
            above = "  above noise" if e.noise is not None and e.atoms[i] > e.noise else ""
            lines.append(f"    {i:>4}  {sym:<3} {e.atoms[i]:+8.3f}"
                         f"{' *' if i in marked else ''}{above}")
    elif e.marked_atoms and e.mol is not None:
        lines.append("  atoms unseen in training: " + ", ".join(
            f"{e.mol.GetAtomWithIdx(i).GetSymbol()}{i}" for i in e.marked_atoms))
    if e.neighbours:
        lines.append("  nearest training molecules (Tanimoto, Morgan r=2 2048 bits):")
        for n in e.neighbours:
            name = f"  {n.name}" if n.name else ""
            lines.append(f"    {n.similarity:.2f}  {n.smiles}{name}")
    return "\n".join(lines)


def explanation_html(e: "Explanation") -> str:
    """An HTML block: the two depictions side by side and the text beside them."""
    esc = html.escape
    q, nb = molecule_svg(e), neighbour_svg(e)
    pics = "".join(f"<div class='molood-mol'>{s}<div>{esc(c)}</div></div>" for s, c in (
        (q, _title(e)),
        (nb, f"nearest: {e.neighbours[0].label} ({e.neighbours[0].similarity:.2f})"
         if e.neighbours else "")) if s)
    return (f"<div class='molood-expl' style='display:flex;gap:12px;align-items:flex-start'>"
            f"{pics}<div style='max-width:28em'><b>{esc(terms_line(e))}</b><br>"
            f"{esc(e.verdict)}<br><i>{esc(e.reason)}</i></div></div>")
