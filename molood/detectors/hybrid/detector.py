"""HybridDetector: SEGO beside nearest neighbours, descriptors and hard rules, fused into one
calibrated score that says why a molecule is flagged.

Score direction, once and for all: **higher score = more out-of-distribution**.

What it computes (:mod:`.components`, :mod:`.fusion`):

1. Each component's raw score of a molecule against the in-distribution (ID) training set.
2. Each raw score as a conformal p-value against that component's ID null distribution:
   leave-one-out scores of up to ``calibration_size`` ID molecules (each compared with all the
   others), or, for ``sego``, the scores of the ID molecules SEGO held out of training.
3. The fused score ``T = Σ −log p_c`` (Fisher's rule, one rule for every data set), plus
   :data:`~molood.detectors.hybrid.fusion.RULE_SCORE` when the molecule has an atom type
   (element, or element in a charge, radical or valence state) no ID molecule has.
4. ``T``'s own split-conformal calibration (``pvalue``, ``threshold``, ``predict`` of
   :class:`~molood.detectors.base.BaseDetector`) on ID molecules that no component trained on:
   all the leave-one-out molecules when ``sego`` is not a component (so small fpr values are
   resolvable: FreeSolv's 642 molecules resolve fpr down to 1/643), else SEGO's held-out ones.

Evidence (:meth:`HybridDetector.score_evidence`, the screen's extra columns): the nearest ID
molecule (SMILES, name when the training file had one, Tanimoto) and, for flagged molecules,
a short reason: the rule broken, else the components whose p-values are smallest.

Components, fusion rule and ``k`` were chosen on the development pairs only
(``benchmarks/ood_pairs.py --dev``; README, "Hybrid detector"). Scores depend only on the
molecule and the model: neighbour searches are exact and per query, the SEGO part is
SEGO's batch-independent score.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterable, Literal, Sequence

import numpy as np

from molood import _term
from molood.chem.atomtypes import AtomTypeSet
from molood.chem.limits import DEFAULT_MAX_ATOMS
from molood.chem.neighbors import EXACT_MAX_REFERENCES, HNSWFingerprintIndex, make_index
from molood.chem.profiles import Profiles, profiles
from molood.chem.reference import ReferenceSet
from molood.chem.standardize import DEFAULT_STANDARDIZE, Standardizer
from molood.chem.standardize import featurizer_settings as _featurizer_settings
from molood.detectors.base import BaseDetector
from molood.detectors.calibration import check_fpr, ood_flags
from molood.detectors.hybrid.components import (
    GRAPH_COMPONENTS,
    DescriptorStats,
    EmbeddingIndex,
    EnvironmentCounts,
    check_components,
    molecule_evidence,
)
from molood.detectors.hybrid.fusion import fuse
from molood.detectors.hybrid.reasons import flagged_reasons
from molood.detectors.hybrid.table import MoleculeTable, profile_stream
from molood.detectors.hybrid.table import progress_log as _progress
from molood.detectors.inputs import (
    as_list,
    check_training_rows,
    graph_arrays_sha256,
    to_graph_arrays,
)
from molood.detectors.registry import register
from molood.graphs.arrays import GraphArrays

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.sego.detector import SEGODetector

__all__ = ["HybridDetector", "DEFAULT_COMPONENTS", "EVIDENCE_COLUMNS"]

logger = logging.getLogger(__name__)

DEFAULT_COMPONENTS = ("knn", "descriptors")
"""Components fused for molecules unless told otherwise (chosen on the development pairs)."""

DEFAULT_GRAPH_COMPONENTS = ("embedding",)
"""Components for graphs without molecules (TU data sets)."""

_LARGE = 50_000
"""Fits of more molecules than this say what they are doing (smaller ones take seconds)."""

_PROFILE_CPU_S, _HNSW_BUILD_S = 406e-6, 170e-6
"""CPU seconds a molecule costs to read and profile, and to add to a HNSW graph (one thread),
measured on MOSES' 1.58M molecules (``benchmarks/train_scale.py``): the rough duration said
before a large fit starts."""


def _rough_seconds(n: int, jobs: int) -> float:
    hnsw = n * _HNSW_BUILD_S if n > EXACT_MAX_REFERENCES else 0.0
    return n * _PROFILE_CPU_S / max(1, jobs) + hnsw

EVIDENCE_COLUMNS = ("nearest_smiles", "nearest_id", "nearest_similarity", "reason")
"""Evidence :meth:`HybridDetector.score_evidence` returns per row (screens prefix them with
``molood_``)."""


@register("hybrid")
class HybridDetector(BaseDetector):
    """Hybrid OOD detector: SEGO and/or molecular evidence, fused and calibrated (module
    docstring). **Higher score = more OOD.**

    Parameters
    ----------
    components : "auto" or sequence of str, default="auto"
        What to fuse, from ``knn``, ``descriptors``, ``environments``, ``embedding``,
        ``sego`` (:mod:`molood.detectors.hybrid.components`). "auto": ``("knn",
        "descriptors")`` for molecules, ``("embedding",)`` for graphs without molecules (TU
        data sets).
    k : int, default=5
        Fingerprint neighbours averaged by ``knn``.
    k_embedding : int, default=1
        Graph neighbours averaged by ``embedding``.
    calibration_size : int, default=10000
        Most ID molecules scored leave-one-out for the null distributions (a sample drawn with
        ``RandomState(seed + 3)`` above it).
    neighbors_size : int or None, default=None
        Most ID molecules kept for neighbour searches and evidence (a seeded sample above it);
        None keeps all.
    neighbors_index : {"auto", "exact", "hnsw"}, default="auto"
        How neighbours are searched (:func:`~molood.chem.neighbors.make_index`): exactly, or
        in a HNSW graph (approximate, ~0.10 ms a query against 1.58M molecules); "auto":
        exact up to 50,000 neighbour molecules, HNSW above.
    epochs, max_steps : int, default=400, 2000
        SEGO's training budget (``sego``/``embedding`` only): at most ``epochs`` epochs and
        ``max_steps`` optimiser steps (:func:`~molood.detectors.sego.training.budget_epochs`).
    sego_params : dict or None
        Further :class:`~molood.detectors.sego.SEGODetector` parameters (``alpha``, ``lr``,
        ``time_budget``, ...); ``seed``, ``epochs``, ``max_steps``, ``n_jobs``,
        ``num_threads``, ``checkpoint`` and ``resume`` come from this detector.
    checkpoint, resume : path or None, bool
        The SEGO part's training checkpoint and whether to resume from it
        (:class:`~molood.detectors.sego.SEGODetector`); unused without a SEGO part.
    fpr : float, default=0.05
        Default ID false-positive rate of :meth:`predict` / :meth:`threshold` / screens.
    seed : int, default=0
    standardize : str, dict or None, default="default"
        As :class:`~molood.detectors.sego.SEGODetector`'s: every molecule is standardised
        before anything is computed, at fit and at scoring.
    on_invalid : {"raise", "skip"}, default="raise"
    n_jobs : int, default=1
        Processes for profiling the training molecules and for coding trees (SEGO); -1 = all
        cores. Does not change the model.
    num_threads : int or None, default=1
        torch threads of the SEGO part.
    verbose : bool, default=True
    max_atoms : int or None, default=1000
        Scoring refuses larger molecules (status ``too_large``); not stored in model files.

    Attributes
    ----------
    components_ : tuple of str
    nulls_ : dict of str to ndarray
        Sorted ID null scores per component.
    sego_ : SEGODetector or None
    reference_ : ReferenceSet or None
        The ID molecules neighbours are searched in (SMILES, names, fingerprints).
    descriptors_ : DescriptorStats or None
    atom_types_ : AtomTypeSet or None
    environments_ : EnvironmentCounts or None
    """

    _RUNTIME_PARAMS = ("verbose", "n_jobs", "max_atoms", "num_threads", "checkpoint", "resume")
    evidence_columns = EVIDENCE_COLUMNS

    def __init__(self, *, components: Any = "auto", k: int = 5, k_embedding: int = 1,
                 calibration_size: int = 10_000, neighbors_size: int | None = None,
                 neighbors_index: Literal["auto", "exact", "hnsw"] = "auto",
                 epochs: int = 400, max_steps: int | None = 2000,
                 sego_params: dict[str, Any] | None = None, fpr: float = 0.05, seed: int = 0,
                 standardize: Any = DEFAULT_STANDARDIZE,
                 on_invalid: Literal["raise", "skip"] = "raise", n_jobs: int = 1,
                 num_threads: int | None = 1, verbose: bool = True,
                 max_atoms: int | None = DEFAULT_MAX_ATOMS, checkpoint: Any = None,
                 resume: bool = False) -> None:
        self.components = components
        self.k = k
        self.k_embedding = k_embedding
        self.calibration_size = calibration_size
        self.neighbors_size = neighbors_size
        self.neighbors_index = neighbors_index
        self.epochs = epochs
        self.max_steps = max_steps
        self.sego_params = sego_params
        self.fpr = fpr
        self.seed = seed
        self.standardize = standardize
        self.on_invalid = on_invalid
        self.n_jobs = n_jobs
        self.num_threads = num_threads
        self.verbose = verbose
        self.max_atoms = max_atoms
        self.checkpoint = checkpoint
        self.resume = resume

    # ------------------------------------------------------------------ settings
    def featurizer_settings(self) -> tuple[Standardizer | None, bool]:
        """(standardizer, featurizer's largest_fragment) of ``standardize`` (as SEGO's)."""
        return _featurizer_settings(self.standardize, None)

    def _validate_params(self, graphs_only: bool = False) -> tuple[str, ...]:
        if self.on_invalid not in ("raise", "skip"):
            raise ValueError(f"on_invalid must be 'raise' or 'skip', got {self.on_invalid!r}")
        for name in ("k", "k_embedding", "calibration_size", "epochs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.neighbors_size is not None and int(self.neighbors_size) < 1:
            raise ValueError(f"neighbors_size must be >= 1 or None, got {self.neighbors_size}")
        if self.neighbors_index not in ("auto", "exact", "hnsw"):
            raise ValueError("neighbors_index must be 'auto', 'exact' or 'hnsw', got "
                             f"{self.neighbors_index!r}")
        check_fpr(self.fpr)
        self.featurizer_settings()
        comps = self.components
        if isinstance(comps, str):
            if comps != "auto":
                comps = [c.strip() for c in comps.split(",") if c.strip()]
            else:
                comps = DEFAULT_GRAPH_COMPONENTS if graphs_only else DEFAULT_COMPONENTS
        return check_components(comps, graphs_only)

    @property
    def needs_graphs(self) -> bool:
        """Whether scoring needs the molecular graphs (a SEGO part), not only the molecules."""
        return any(c in GRAPH_COMPONENTS for c in self.components_)

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any = None) -> "HybridDetector":
        """Learn the ID set from ``X`` (SMILES, RDKit Mols, or a GraphArrays of graphs without
        molecules); ``y`` is ignored. Returns ``self``."""
        if isinstance(X, GraphArrays):
            self.components_ = self._validate_params(graphs_only=True)
            ga, _, errors = to_graph_arrays(X)
            check_training_rows(errors, self.on_invalid)
            return self._fit_common(len(ga), ga, None)
        return self.fit_chunks([as_list(X)])

    def fit_chunks(self, chunks: Iterable[Sequence[Any]], expected: int | None = None
                   ) -> "HybridDetector":
        """Learn the ID set from a stream of input chunks (SMILES, RDKit Mols, None for a
        missing value), read one at a time and profiled in ``n_jobs`` processes
        (:func:`~molood.detectors.hybrid.table.profile_chunk`), so that a collection of
        millions is never held as molecules. Gives the model :meth:`fit` gives on the
        chunks joined, however they are cut. ``expected``: about how many inputs will come
        (progress lines then say how long is left). Returns ``self``."""
        from molood._parallel import resolve_n_jobs

        self.components_ = self._validate_params(graphs_only=False)
        std, largest = self.featurizer_settings()
        if self.verbose and expected and expected > _LARGE:
            jobs = resolve_n_jobs(self.n_jobs)
            rough = _term.duration(_rough_seconds(expected, jobs))
            _term.say(_progress, f"hybrid fit: reading ~{expected:,} molecules with {jobs} "
                                 f"process(es); roughly {rough} in all on the machine the "
                                 "README measures on")
        return self._fit_table(profile_stream(chunks, std, largest, self.needs_graphs,
                                              self.n_jobs, self.verbose, expected))

    def _fit_table(self, table: "MoleculeTable") -> "HybridDetector":
        """Learn the ID set from a profiled collection (:meth:`fit_chunks`; ``components_``
        resolved). Returns ``self``."""
        errors: list[str | None] = [None] * table.n_items
        for i, e in table.errors:
            errors[i] = e
        check_training_rows(errors, self.on_invalid)
        return self._fit_common(len(table), table.graphs, table)

    def _fit_common(self, n: int, ga: GraphArrays | None, table: "MoleculeTable | None"
                    ) -> "HybridDetector":
        """The fit once the inputs are read: ``table`` for molecules, None for graphs without
        molecules (``ga``, then, holds them)."""
        comps = self.components_
        if n < 3:
            raise ValueError(f"need at least 3 valid training molecules, got {n}")
        self.train_sha256_ = graph_arrays_sha256(ga) if ga is not None else None
        self.train_smiles_sha256_ = None if table is None else table.input_sha256()
        self.n_fit_ = n
        self.sego_ = self._fit_sego(ga) if self.needs_graphs else None
        loo_pos = ReferenceSet.sample(n, int(self.calibration_size), int(self.seed) + 3)
        cal_pos = self.sego_.cal_index_ if self.sego_ is not None else loo_pos
        null_pos = np.union1d(cal_pos, loo_pos)
        self.reference_ = self.descriptors_ = self.atom_types_ = self.environments_ = None
        self.embedding_ = None
        if table is not None:
            self._fit_molecules(table, cal_pos)
        if "embedding" in comps:
            self.embedding_ = EmbeddingIndex.from_embeddings(
                self.sego_.embed_graphs(ga))  # type: ignore[union-attr]
        if self.verbose and n > _LARGE:
            _term.say(_progress, f"hybrid fit: calibrating on {len(null_pos):,} molecules, each "
                                 "left out in turn")
        raw = self._loo_scores(table, ga, null_pos)
        self.nulls_ = {c: np.sort(raw[c]) for c in comps if c != "sego"}
        if "sego" in comps:
            self.nulls_["sego"] = np.asarray(self.sego_.cal_scores_, dtype=np.float64)
            raw["sego"] = np.full(len(null_pos), np.nan)
            raw["sego"][np.searchsorted(null_pos, cal_pos)] = self.sego_.score_graphs(
                ga.take(cal_pos), max_atoms=None)  # type: ignore[union-attr]
        at = np.searchsorted(null_pos, cal_pos)
        fused, _ = fuse({c: raw[c][at] for c in comps}, self.nulls_,
                        None if table is None else raw["_rule"][at])
        self.cal_index_ = np.asarray(cal_pos, dtype=np.int64)
        self._set_calibration(fused)
        self.training_source_ = None
        if self.verbose:
            logger.info("hybrid fit: %d molecules, components %s, %d calibration molecules",
                        n, ",".join(comps), self.n_cal_)
        return self

    def _fit_sego(self, ga: GraphArrays) -> "SEGODetector":
        from molood.detectors.sego.detector import SEGODetector

        params = dict(self.sego_params or {})
        params.update(seed=int(self.seed), epochs=int(self.epochs), max_steps=self.max_steps,
                      n_jobs=self.n_jobs, num_threads=self.num_threads, verbose=self.verbose,
                      reference_size=0, standardize=self.standardize,
                      max_atoms=self.max_atoms, checkpoint=self.checkpoint,
                      resume=self.resume)
        return SEGODetector(**params).fit(ga)

    def _fit_molecules(self, table: "MoleculeTable", cal_pos: np.ndarray) -> None:
        """The molecular side: reference/neighbour set (``cal_pos`` marked as calibration
        molecules) and its index, descriptor statistics, atom types, environments."""
        n = len(table)
        cap = n if self.neighbors_size is None else int(self.neighbors_size)
        keep = ReferenceSet.sample(n, cap, int(self.seed) + 2)
        cal = np.zeros(n, dtype=bool)
        cal[cal_pos] = True
        self.reference_ = ReferenceSet(
            smiles=[table.smiles[i] for i in keep.tolist()], names=None,
            fingerprints=table.fingerprints[keep], calibration=cal[keep],
            environments=table.env_ids, elements=table.elements, n_source=n,
            source_index=table.positions[keep])
        self._ref_row = np.full(n, -1, dtype=np.int64)  # fit position -> reference row
        self._ref_row[keep] = np.arange(keep.size)
        if self.verbose and keep.size > _LARGE:
            _term.say(_progress, f"hybrid fit: indexing {keep.size:,} molecules for neighbour "
                                 "search")
        self.index_ = make_index(self.reference_.fingerprints, self.neighbors_index)
        if isinstance(self.index_, HNSWFingerprintIndex):  # it holds them: one copy
            self.reference_.fingerprints = None
            self.reference_.index = self.index_
        self.descriptors_ = DescriptorStats.fit(table.desc)
        self.atom_types_ = AtomTypeSet.from_distinct(table.type_rows, table.type_offsets)
        self.environments_ = (EnvironmentCounts(table.env_ids, table.env_counts)
                              if "environments" in self.components_ else None)

    def _loo_scores(self, table: "MoleculeTable | None", ga: GraphArrays | None,
                    pos: np.ndarray) -> dict[str, np.ndarray]:
        """Leave-one-out raw scores of fit positions ``pos`` (and ``_rule``: atom-type rule)."""
        out: dict[str, np.ndarray] = {}
        if table is not None:
            sub = Profiles(table.fingerprints[pos],
                           [table.types(i) for i in pos.tolist()], table.desc[pos])
            mols: list[Any] = [None] * len(pos)
            if "environments" in self.components_:
                from rdkit import Chem

                mols = [Chem.MolFromSmiles(table.smiles[i]) for i in pos.tolist()]
            ev = molecule_evidence(sub, mols, self.components_, self.index_, int(self.k),
                                   self.descriptors_, self.environments_, self.atom_types_,
                                   exclude=self._ref_row[pos])
            out.update(ev.scores)
            out["_rule"] = ev.rule
        if "embedding" in self.components_:
            emb = self.sego_.embed_graphs(ga.take(pos))  # type: ignore[union-attr]
            out["embedding"] = self.embedding_.score(emb, int(self.k_embedding), exclude=pos)
        return out

    # ------------------------------------------------------------------ scoring
    @property
    def fitted_on_molecules(self) -> bool:
        """True for a model of molecules, False for one of graphs without molecules (TU)."""
        return self.descriptors_ is not None

    def score_prepared(self, ga: GraphArrays | None, mols: Sequence[Any] | None,
                       fpr: float | None = None, smiles: Sequence[str | None] | None = None
                       ) -> tuple[np.ndarray, dict[str, list]]:
        """Scores and evidence of already prepared inputs (what screening calls).

        Molecule models: ``mols`` has one entry per input (the standardised RDKit molecule;
        None where invalid) and ``ga`` holds the graphs of the valid ones (None when
        :attr:`needs_graphs` is False); ``smiles``, if given, the canonical SMILES RDKit
        wrote for each (it saves RDKit calls,
        :func:`~molood.chem.profiles.profiles`). Graph models (fitted on graphs without
        molecules): ``mols`` is None and every graph of ``ga`` is an input. Reasons are given
        for rows flagged at ``fpr`` (default ``fpr_``). Returns (float64 scores [n], evidence
        lists [n] named as :data:`EVIDENCE_COLUMNS`).
        """
        self._check_is_fitted()
        fpr = self._resolve_fpr(fpr)
        if (mols is not None) != self.fitted_on_molecules:
            raise TypeError("this hybrid model was fitted on molecules; score SMILES or RDKit "
                            "Mols" if self.fitted_on_molecules else
                            "this hybrid model was fitted on graphs without molecules; score a "
                            "GraphArrays")
        if mols is None:
            valid = np.ones(0 if ga is None else len(ga), dtype=bool)
        else:
            valid = np.fromiter((m is not None for m in mols), dtype=bool, count=len(mols))
        n = valid.size
        scores = np.full(n, np.nan)
        ev: dict[str, list] = {c: [None] * n for c in EVIDENCE_COLUMNS}
        if not valid.any():
            return scores, ev
        rows = np.flatnonzero(valid).tolist()
        raw: dict[str, np.ndarray] = {}
        rule = me = prof = None
        ok_mols: list[Any] = []
        if mols is not None:
            ok_mols = [mols[i] for i in rows]
            prof = profiles(ok_mols, None if smiles is None else [smiles[i] for i in rows],
                            written=True)  # canonical: RDKit wrote them
            me = molecule_evidence(prof, ok_mols, self.components_, self.index_, int(self.k),
                                   self.descriptors_, self.environments_, self.atom_types_)
            raw.update(me.scores)
            rule = me.rule
        if "sego" in self.components_:
            raw["sego"] = self.sego_.score_graphs(ga, max_atoms=None)  # type: ignore
        if "embedding" in self.components_:
            raw["embedding"] = self.embedding_.score(
                self.sego_.embed_graphs(ga), int(self.k_embedding))  # type: ignore[union-attr]
        fused, pvals = fuse({c: raw[c] for c in self.components_}, self.nulls_, rule)
        scores[rows] = fused
        flagged = ood_flags(self.pvalues_from_scores(fused), fpr)
        ref = self.reference_
        if me is not None and ref is not None:
            sims = me.nearest_similarity.tolist()
            for j, nb in enumerate(me.nearest.tolist()):
                if nb >= 0:
                    r = rows[j]
                    ev["nearest_smiles"][r] = ref.smiles[nb]
                    ev["nearest_id"][r] = (ref.names[nb] or None) if ref.names else None
                    ev["nearest_similarity"][r] = sims[j]
        flag_rows = np.flatnonzero(flagged)
        texts = flagged_reasons(flag_rows, pvals, me, prof, ok_mols, self.descriptors_,
                                self.environments_)
        for j, text in zip(flag_rows.tolist(), texts):
            ev["reason"][rows[j]] = text
        return scores, ev

    def score_evidence(self, X: Any, fpr: float | None = None) -> dict[str, Any]:
        """Scores with their evidence: ``score`` (float64 [n]), ``status`` (list of str) and
        the lists of :data:`EVIDENCE_COLUMNS` (reasons only for rows flagged at ``fpr``)."""
        self._check_is_fitted()
        std, largest = self.featurizer_settings()
        mols: list[Any] = []
        smiles: list[str | None] = []
        ga, _, errors = to_graph_arrays(X, largest, self.max_atoms, std, smiles_out=smiles,
                                        mols_out=mols, featurize=self.needs_graphs)
        status = ["ok" if e is None else e for e in errors]
        if not isinstance(X, GraphArrays):
            scores, ev = self.score_prepared(ga, mols, fpr, smiles)
            return {"score": scores, "status": status, **ev}
        n = len(errors)  # graphs without molecules: ga holds the valid ones
        ok = np.flatnonzero([e is None for e in errors]).tolist()
        scores = np.full(n, np.nan)
        ev = {c: [None] * n for c in EVIDENCE_COLUMNS}
        if ga is not None or self.fitted_on_molecules:
            s_ok, ev_ok = self.score_prepared(ga, None, fpr)
            scores[ok] = s_ok
            for c in EVIDENCE_COLUMNS:
                for i, v in zip(ok, ev_ok[c]):
                    ev[c][i] = v
        return {"score": scores, "status": status, **ev}

    def score_samples(self, X: Any) -> np.ndarray:
        """OOD score per input (float64; **higher = more OOD**; NaN when not scorable). Does
        not depend on the other inputs, their order or how they are batched."""
        return np.asarray(self.score_evidence(X)["score"], dtype=np.float64)

    # ------------------------------------------------------------------ model files
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        from molood.detectors.hybrid.state import hybrid_state

        return hybrid_state(self)

    def _set_state(self, manifest: dict[str, Any], tensors: dict[str, np.ndarray],
                   scoring_only: bool) -> None:
        from molood.detectors.hybrid.state import restore_hybrid

        restore_hybrid(self, manifest, tensors, scoring_only)

