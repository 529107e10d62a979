"""The cap on atoms per molecule for scoring, and its per-row error reason.

Pure Python (no RDKit, no torch) so that detectors and screening can import the default cheaply.
The featurizers (:mod:`molood.chem.features`) apply it when given ``max_atoms``.
"""

from __future__ import annotations

import operator

__all__ = ["DEFAULT_MAX_ATOMS", "too_large", "plain_smiles_atoms", "check_max_atoms"]

DEFAULT_MAX_ATOMS = 1000
"""Default cap on atoms per molecule for scoring (graph nodes: heavy atoms, plus the rare
hydrogens RDKit keeps as atoms; for ``largest_fragment=True``, those of the kept fragment).

Why a cap: SEGO's node-level loss contrasts every atom of a molecule with every other, so its
time grows with n² (memory is held to ~45 MB by computing it in blocks). With the bundled model
on one core (``benchmarks/hostile.py``), a 1,000-atom molecule scores in ~0.03 s with ~23 MB
of peak memory; a 20,000-atom chain takes 3.3 s and ~120 MB, the time of ~10,000 approved
drugs (~2,900 per second). One such row must not stall a screen of a million ordinary ones;
the largest ChEMBL approved drug has 200 heavy atoms, so 1,000 refuses no drug-like
molecule. A refused row gets the reason :func:`too_large` and no score."""


def check_max_atoms(max_atoms: object) -> int | None:
    """A ``max_atoms`` option as the featurizers take it: a positive int, or None for no cap
    (``0`` also means no cap, so that ``molood screen --max-atoms 0`` can say it);
    ValueError for anything else."""
    if max_atoms is None:
        return None
    try:
        n = -1 if isinstance(max_atoms, bool) else operator.index(max_atoms)  # type: ignore
    except TypeError:
        n = -1
    if n < 0:
        raise ValueError(f"max_atoms must be a positive integer, 0 or None, got {max_atoms!r}")
    return n or None


def too_large(n_atoms: int, max_atoms: int) -> str:
    """The per-row error reason of a molecule above the cap:
    ``"too_large: N atoms (max_atoms=M)"``."""
    return f"too_large: {int(n_atoms)} atoms (max_atoms={int(max_atoms)})"


_ORGANIC = "BCNOPSFIbcnops*"  # first letters of the organic-subset atom symbols (Cl, Br: once)


def plain_smiles_atoms(smiles: str) -> int:
    """Atoms RDKit will parse from a *plain* SMILES (organic-subset atoms without brackets, no
    CXSMILES block), counted from the text alone: every atom is one of ``B C N O P S F Cl Br I
    b c n o p s *`` and no other letter may appear; text after the first whitespace is the
    molecule's name. Lets a featurizer refuse a huge row before RDKit spends seconds on it
    (parsing 9,000 atoms of polyamide takes ~1 s; a string of 50,000 unclosed branches ~2 s to
    fail). Meaningless for other strings (bracket atoms are not counted)."""
    head = smiles.split(None, 1)[0] if smiles else ""
    return sum(map(head.count, _ORGANIC))
