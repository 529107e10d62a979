"""The evidence the hybrid detector fuses, each as a raw score (higher = more OOD) against what
the in-distribution (ID) set holds, plus the hard atom-type rule. numpy (+ RDKit through
:mod:`molood.chem`); no torch.

=================  =================================================================  ========
component          raw score                                                          needs
=================  =================================================================  ========
``knn``            1 − mean Tanimoto of the ``k`` nearest ID molecules (Morgan r=2)   SMILES
``descriptors``    root-mean-square ID z-score of 13 descriptors                      SMILES
``environments``   share of the atom environments (Morgan r=0–2) unseen in ID        SMILES
``embedding``      1 − mean cosine of the ``k`` nearest ID graphs in SEGO's space     graphs
``sego``           the SEGO score (:class:`~molood.detectors.sego.SEGODetector`)      graphs
=================  =================================================================  ========

Every component except ``sego`` can be scored *leave-one-out* for an ID molecule (the molecule
left out of what it is compared with), which is how their ID null distributions are drawn
(:mod:`.fusion`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from molood.chem.atomtypes import AtomTypeSet
from molood.chem.descriptors import DESCRIPTOR_LABELS, DESCRIPTOR_NAMES
from molood.chem.fingerprints import MISSING_ENV, atom_environments
from molood.chem.neighbors import FingerprintIndex
from molood.chem.profiles import Profiles
from molood.detectors.calibration import SIGMA_EPS

__all__ = ["COMPONENTS", "MOLECULE_COMPONENTS", "GRAPH_COMPONENTS", "DescriptorStats",
           "EnvironmentCounts", "EmbeddingIndex", "knn_score", "check_components"]

MOLECULE_COMPONENTS = ("knn", "descriptors", "environments")
GRAPH_COMPONENTS = ("embedding", "sego")
COMPONENTS = MOLECULE_COMPONENTS + GRAPH_COMPONENTS


def check_components(components: Sequence[str], graphs_only: bool) -> tuple[str, ...]:
    """``components`` as a tuple of known names, without repeats; ValueError for an unknown one,
    an empty list, or a molecule component when the input has no molecules (TU graphs)."""
    comps = tuple(dict.fromkeys(str(c) for c in components))
    unknown = [c for c in comps if c not in COMPONENTS]
    if unknown:
        raise ValueError(f"unknown component(s) {unknown}; known: {list(COMPONENTS)}")
    if not comps:
        raise ValueError("components must name at least one component")
    if graphs_only and any(c in MOLECULE_COMPONENTS for c in comps):
        raise ValueError(f"components {[c for c in comps if c in MOLECULE_COMPONENTS]} need "
                         "molecules (SMILES or RDKit Mols); graphs without them can use "
                         f"{list(GRAPH_COMPONENTS)}")
    return comps


def knn_score(sims: np.ndarray) -> np.ndarray:
    """1 − mean of each row's similarities [n, k] (NaN entries, missing neighbours, skipped)."""
    with np.errstate(invalid="ignore"):
        return 1.0 - np.nanmean(sims, axis=1) if sims.shape[1] else np.ones(sims.shape[0])


@dataclass(eq=False)
class DescriptorStats:
    """ID mean, population std (floored) and 1st/99th percentiles of each descriptor."""

    mean: np.ndarray
    sd: np.ndarray
    q01: np.ndarray
    q99: np.ndarray

    @classmethod
    def fit(cls, desc: np.ndarray) -> "DescriptorStats":
        """Statistics of ID descriptors ``desc`` [n, 13]."""
        return cls(desc.mean(axis=0), np.maximum(desc.std(axis=0), SIGMA_EPS),
                   np.percentile(desc, 1, axis=0), np.percentile(desc, 99, axis=0))

    def z(self, desc: np.ndarray) -> np.ndarray:
        """ID z-scores [n, 13]."""
        return (desc - self.mean) / self.sd

    def score(self, desc: np.ndarray) -> np.ndarray:
        """Root-mean-square z-score per molecule [n]."""
        return np.sqrt(np.mean(self.z(desc) ** 2, axis=1))

    def most_unusual(self, desc: np.ndarray) -> np.ndarray:
        """int64 [n]: the column of each molecule's largest absolute z-score."""
        return np.argmax(np.abs(self.z(desc)), axis=1)

    def reason(self, desc_row: np.ndarray, j: int | None = None) -> str:
        """The most unusual descriptor of one molecule (column ``j``, if already known from
        :meth:`most_unusual`), against the ID 1–99% range."""
        if j is None:
            j = int(self.most_unusual(desc_row[None, :])[0])
        name = DESCRIPTOR_LABELS[DESCRIPTOR_NAMES[j]]
        return (f"unusual {name} {_fmt(desc_row[j])} (training 1-99%: {_fmt(self.q01[j])}"
                f"-{_fmt(self.q99[j])})")


def _fmt(x: float) -> str:
    return f"{x:.0f}" if abs(x - round(x)) < 1e-9 or abs(x) >= 100 else f"{x:.2f}"


@dataclass(eq=False)
class EnvironmentCounts:
    """Morgan atom-environment identifiers (radius 0–2) of the ID set, sorted, and in how many ID
    molecules each occurs (``counts``: known at fit time only, model files keep the identifiers;
    needed for leave-one-out)."""

    ids: np.ndarray
    counts: np.ndarray | None = None

    @staticmethod
    def distinct(mol: Any) -> np.ndarray:
        """uint32 [e], sorted: the distinct environment identifiers of one molecule (what
        :meth:`from_distinct` counts; read while the molecule is at hand)."""
        env = atom_environments(mol)
        return np.unique(env[env != MISSING_ENV])

    @classmethod
    def from_distinct(cls, per: Sequence[np.ndarray]) -> "EnvironmentCounts":
        """The counts of molecules given by their :meth:`distinct` identifiers."""
        ids, counts = np.unique(np.concatenate(per) if per else np.zeros(0, np.uint32),
                                return_counts=True)
        return cls(ids.astype(np.uint32), counts.astype(np.int64))

    def unseen(self, mol: Any, leave_one_out: bool = False) -> tuple[int, int]:
        """(unseen, total) atom environments of ``mol``, counted over atoms × radii."""
        env = atom_environments(mol)
        env = env[env != MISSING_ENV]
        if env.size == 0:
            return 0, 0
        pos = np.minimum(np.searchsorted(self.ids, env), max(self.ids.size - 1, 0))
        seen = (self.ids[pos] == env) if self.ids.size else np.zeros(env.size, dtype=bool)
        if leave_one_out and self.ids.size:
            seen &= self.counts[pos] > 1  # type: ignore[index]
        return int((~seen).sum()), int(env.size)

    def score(self, mols: Sequence[Any], leave_one_out: bool = False) -> np.ndarray:
        """Unseen share per molecule [n] (0 for a molecule without environments)."""
        out = np.zeros(len(mols))
        for i, m in enumerate(mols):
            u, t = self.unseen(m, leave_one_out)
            out[i] = u / t if t else 0.0
        return out


class EmbeddingIndex:
    """Exact cosine nearest neighbours among ID graph embeddings.

    ``unit``: float32 [n, d] unit rows (what model files store); searches use their float64
    copy, made once."""

    def __init__(self, unit: np.ndarray) -> None:
        self.unit = np.asarray(unit, dtype=np.float32)
        self._ref = self.unit.astype(np.float64)

    @classmethod
    def from_embeddings(cls, emb: np.ndarray) -> "EmbeddingIndex":
        """The index of raw embeddings ``emb`` [n, d] (rows scaled to unit length)."""
        e = np.asarray(emb, dtype=np.float64)
        return cls(e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12))

    def score(self, emb: np.ndarray, k: int, exclude: np.ndarray | None = None,
              block: int = 256) -> np.ndarray:
        """1 − mean cosine of the ``k`` nearest ID embeddings of each row of ``emb``; per row
        independent of the others (fixed row blocks, float64 products)."""
        ref = self._ref
        e = np.asarray(emb, dtype=np.float64)
        q = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
        out = np.zeros(len(q))
        kk = max(1, min(int(k), ref.shape[0] - (1 if exclude is not None else 0)))
        for s in range(0, len(q), block):
            sims = np.einsum("id,jd->ij", q[s:s + block], ref)
            if exclude is not None:
                ex = np.asarray(exclude[s:s + block])
                rows = np.flatnonzero(ex >= 0)
                sims[rows, ex[rows]] = -np.inf
            top = -np.partition(-sims, kk - 1, axis=1)[:, :kk]
            out[s:s + block] = 1.0 - top.mean(axis=1)
        return out


@dataclass(eq=False)
class MoleculeEvidence:
    """What the ID set says about a batch of molecules: raw component scores, the nearest ID
    neighbour and the atom-type rule."""

    scores: dict[str, np.ndarray]
    nearest: np.ndarray
    nearest_similarity: np.ndarray
    violations: list[list[str]]

    @property
    def rule(self) -> np.ndarray:
        """bool [n]: the molecule breaks the atom-type rule."""
        return np.fromiter(map(bool, self.violations), dtype=bool, count=len(self.violations))


def molecule_evidence(prof: Profiles, mols: Sequence[Any], comps: Sequence[str],
                      index: FingerprintIndex, k: int, desc: DescriptorStats,
                      envs: EnvironmentCounts | None, types: AtomTypeSet,
                      exclude: np.ndarray | None = None) -> MoleculeEvidence:
    """Raw molecule-component scores of ``mols`` (with their :class:`Profiles`); ``exclude``:
    each molecule's own position in ``index`` for leave-one-out (-1: not in it), which also
    makes the environment and atom-type checks leave-one-out."""
    loo = exclude is not None
    idx, sims = index.nearest(prof.fingerprints, k=max(1, int(k)), exclude=exclude)
    scores: dict[str, np.ndarray] = {}
    if "knn" in comps:
        scores["knn"] = knn_score(sims)
    if "descriptors" in comps:
        scores["descriptors"] = desc.score(prof.desc)
    if "environments" in comps and envs is not None:
        scores["environments"] = envs.score(mols, leave_one_out=loo)
    viol = types.violations_many(prof.types, leave_one_out=loo)
    return MoleculeEvidence(scores, idx[:, 0], sims[:, 0], viol)
