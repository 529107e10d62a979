"""Molecule depictions as SVG text (RDKit ``rdMolDraw2D``), atoms coloured by contribution.

Similarity-map style, kept small enough to inline by the dozen in one HTML file: each atom with
a noticeable contribution gets a disc coloured on a diverging scale — red for a positive
contribution (the atom makes the molecule look more OOD), blue for a negative one, white for
none — with the colour's strength ``|c| / scale``. The scale is the molecule's largest
``|c|``, but never below the noise level, so that a molecule with nothing above noise stays
pale instead of being blown up to full colour. (RDKit's Gaussian contour maps drew the same
information in 40–1,500 KB per molecule; discs take ~12 KB.) Atoms marked separately (e.g.
environments unseen in training) carry a small ``*`` note.
"""

from __future__ import annotations

import html
import re
from typing import Any, Sequence

import numpy as np

__all__ = ["depict", "side_by_side", "contribution_colour", "MIN_SHOWN"]

MIN_SHOWN = 0.1
"""Atoms with ``|c| / scale`` below this get no disc."""

_RED = np.array([0.84, 0.15, 0.16])
_BLUE = np.array([0.13, 0.40, 0.67])
_XML_HEADER = re.compile(r"^<\?xml[^>]*>\s*")


def contribution_colour(value: float) -> tuple[float, float, float]:
    """RGB in [0, 1] for a contribution already divided by its scale (clipped to [-1, 1])."""
    v = float(np.clip(value, -1.0, 1.0))
    end = _RED if v >= 0 else _BLUE
    return tuple((1.0 - abs(v)) * np.ones(3) + abs(v) * end)  # type: ignore[return-value]


def depict(mol: Any, weights: Sequence[float] | np.ndarray | None = None, *,
           scale: float | None = None, marked: Sequence[int] = (),
           size: tuple[int, int] = (320, 240), legend: str = "") -> str:
    """SVG text (no XML declaration, ready to inline) of ``mol``, atoms coloured by
    ``weights`` (one per atom; None draws it plain) and ``marked`` atoms noted ``*``."""
    from rdkit import Chem
    from rdkit.Chem import rdDepictor
    from rdkit.Chem.Draw import rdMolDraw2D

    mol = Chem.Mol(mol)
    rdDepictor.SetPreferCoordGen(True)
    rdDepictor.Compute2DCoords(mol)
    for i in marked:
        mol.GetAtomWithIdx(int(i)).SetProp("atomNote", "*")
    drawer = rdMolDraw2D.MolDraw2DSVG(int(size[0]), int(size[1]))
    opts = drawer.drawOptions()
    opts.legendFontSize = 14
    opts.annotationFontScale = 0.9
    opts.fixedBondLength = 30  # small molecules stay small instead of filling the frame
    colours: dict[int, tuple[float, float, float]] = {}
    radii: dict[int, float] = {}
    if weights is not None and mol.GetNumAtoms():
        w = np.asarray(weights, dtype=np.float64)
        top = float(np.max(np.abs(w))) if w.size else 0.0
        s = max(top, scale or 0.0)
        if s > 0:
            for i, v in enumerate((w / s).tolist()):
                if abs(v) >= MIN_SHOWN:
                    colours[i] = contribution_colour(v)
                    radii[i] = 0.4
    rdMolDraw2D.PrepareAndDrawMolecule(drawer, mol, legend=legend,
                                       highlightAtoms=list(colours),
                                       highlightAtomColors=colours, highlightAtomRadii=radii,
                                       highlightBonds=[])
    drawer.FinishDrawing()
    return _XML_HEADER.sub("", drawer.GetDrawingText())


def _size(svg: str) -> tuple[int, int]:
    m = re.search(r"width='(\d+)px' height='(\d+)px'", svg)
    return (int(m.group(1)), int(m.group(2))) if m else (320, 240)


def side_by_side(panels: Sequence[tuple[str, str]], note: str = "") -> str:
    """One standalone SVG document of depictions (``(svg, caption)`` pairs) side by side,
    each caption under its picture and an optional ``note`` line at the bottom."""
    x, inner = 0, []
    height = 0
    for svg, caption in panels:
        w, h = _size(svg)
        body = re.sub(r"^<svg ", f"<svg x='{x}' y='0' ", svg.strip(), count=1)
        inner.append(body)
        inner.append(f"<text x='{x + w / 2:.0f}' y='{h + 18}' text-anchor='middle' "
                     f"font-family='sans-serif' font-size='13'>{html.escape(caption)}</text>")
        x += w
        height = max(height, h)
    total_h = height + 28 + (20 if note else 0)
    if note:
        inner.append(f"<text x='6' y='{height + 44}' font-family='sans-serif' font-size='11' "
                     f"fill='#444'>{html.escape(note)}</text>")
    return ("<?xml version='1.0' encoding='utf-8'?>\n"
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{x}' height='{total_h}' "
            f"viewBox='0 0 {x} {total_h}'>\n<rect width='100%' height='100%' fill='white'/>\n"
            + "\n".join(inner) + "\n</svg>\n")
