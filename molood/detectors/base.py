"""The detector contract every molood detector follows (scikit-learn estimators, PyOD's
``BaseDetector``), written once.

Score direction, once and for all: **higher score = more out-of-distribution**. (The opposite of
scikit-learn's ``score_samples``, which is "higher = more normal"; the same as PyOD's
``decision_scores_``.)

A subclass implements four things:

- ``__init__`` with keyword-only hyper-parameters, each stored unchanged under its own name
  (so :meth:`get_params`, :meth:`set_params`, ``repr`` and ``sklearn.base.clone`` work);
- ``fit(X, y=None)``, which must end with :meth:`_set_calibration` on scores of in-distribution
  molecules it did not train on, and return ``self``;
- ``score_samples(X)``: float64 [n], NaN for inputs that cannot be scored;
- ``_get_state()`` / ``_set_state()``: its tensors and manifest entries for a model file.

The base class turns these into the user API: conformal :meth:`pvalue`, :meth:`threshold`,
:meth:`predict`, :meth:`decision_function`, :meth:`save` / :meth:`load`. Flags are chosen by an
ID false-positive rate (``fpr``), never by a contamination share: the ID set is clean.
"""

from __future__ import annotations

import inspect
import os
import warnings
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from molood.detectors.calibration import (
    check_fpr,
    conformal_pvalues,
    conformal_threshold,
    fpr_resolution_message,
    ood_flags,
)
from molood.exceptions import NotFittedError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from molood.chem.reference import ReferenceSet
    from molood.detectors.terms import ScoreTerms
    from molood.explain.core import Explanation

__all__ = ["BaseDetector"]


class BaseDetector:
    """Base class of molood's OOD detectors (see the module docstring for the contract).

    Fitted attributes set by :meth:`_set_calibration`
    --------------------------------------------------
    cal_scores_ : ndarray of float64, shape [n_cal]
        Sorted scores of held-out in-distribution molecules: the split-conformal calibration set.
    n_cal_ : int
    fpr_ : float
        The model's default ID false-positive rate (the ``fpr`` parameter at fit time); used by
        :meth:`threshold`, :meth:`predict` and screening whenever no fpr is given.
    threshold_ : float
        ``threshold(fpr_)``.
    """

    registry_name: ClassVar[str] = ""
    """The name model files store for this class (set by ``@register``)."""

    evidence_columns: ClassVar[tuple[str, ...]] = ()
    """Per-row evidence a detector returns beside its scores (:meth:`score_prepared`); screens
    write them as ``molood_<name>`` columns. Empty: scores only."""

    _RUNTIME_PARAMS: ClassVar[tuple[str, ...]] = ("verbose",)
    """Parameters that say how a fit runs (progress bars, worker processes), not what it learns:
    left out of model files, so that the same data, seed and versions give the same file."""

    fpr: float

    # ------------------------------------------------------------------ parameters
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind is not p.VAR_KEYWORD]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters and their current values (scikit-learn API)."""
        return {k: getattr(self, k) for k in self._param_names()}

    def model_params(self) -> dict[str, Any]:
        """:meth:`get_params` without the runtime-only parameters (what a model file stores)."""
        return {k: v for k, v in self.get_params().items() if k not in self._RUNTIME_PARAMS}

    def set_params(self, **params: Any) -> "BaseDetector":
        """Set constructor parameters (takes effect at the next ``fit``); returns ``self``."""
        valid = set(self._param_names())
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"invalid parameter {k!r} for {type(self).__name__}; "
                                 f"valid: {sorted(valid)}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        default = {k: p.default for k, p in sig.parameters.items()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if default.get(k) != v]
        return f"{type(self).__name__}({', '.join(changed)})"

    # ------------------------------------------------------------------ fitted state
    def _check_is_fitted(self) -> None:
        if not hasattr(self, "cal_scores_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit(X) "
                                 "or load a model file (molood.load_model) first.")

    def _set_calibration(self, cal_scores: np.ndarray, fpr: float | None = None) -> None:
        """Store the conformal calibration set and the default fpr (end of every ``fit``)."""
        self.cal_scores_ = np.sort(np.asarray(cal_scores, dtype=np.float64))
        self.n_cal_ = int(self.cal_scores_.size)
        self.fpr_ = check_fpr(self.fpr if fpr is None else fpr)
        self.threshold_ = self.threshold(self.fpr_)

    def _resolve_fpr(self, fpr: float | None) -> float:
        self._check_is_fitted()
        return check_fpr(self.fpr_ if fpr is None else fpr)

    # ------------------------------------------------------------------ to implement
    def fit(self, X: Any, y: Any = None) -> "BaseDetector":  # pragma: no cover - abstract
        """Learn the in-distribution from ``X`` (``y`` is ignored); returns ``self``."""
        raise NotImplementedError

    def score_samples(self, X: Any) -> np.ndarray:  # pragma: no cover - abstract
        """OOD score per input: float64 [n], **higher = more OOD**, NaN when not scorable."""
        raise NotImplementedError

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:  # pragma: no cover
        """(tensors, manifest entries) that describe the fitted detector in a model file."""
        raise NotImplementedError

    def _set_state(self, manifest: dict[str, Any], tensors: dict[str, np.ndarray],
                   scoring_only: bool) -> None:  # pragma: no cover - abstract
        """Restore the fitted state written by :meth:`_get_state`. ``scoring_only``: only what
        scoring needs (a screening worker), which may skip heavy imports."""
        raise NotImplementedError

    @classmethod
    def _from_state(cls, manifest: dict[str, Any], tensors: dict[str, np.ndarray],
                    scoring_only: bool = False) -> "BaseDetector":
        """A fitted detector from a model file's manifest and tensors (``molood.persist``)."""
        known = set(cls._param_names())
        det = cls(**{k: v for k, v in (manifest.get("params") or {}).items() if k in known})
        det._set_state(manifest, tensors, scoring_only)
        return det

    def _calibration_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The calibration part of a model file, shared by every detector."""
        thr = self.threshold_
        return ({"calibration.scores": np.ascontiguousarray(self.cal_scores_, dtype=np.float64)},
                {"n_cal": self.n_cal_, "fpr": self.fpr_,
                 "threshold": thr if np.isfinite(thr) else None})

    def _restore_calibration(self, manifest: dict[str, Any],
                             tensors: dict[str, np.ndarray]) -> None:
        self._set_calibration(tensors["calibration.scores"],
                              fpr=float(manifest["calibration"]["fpr"]))

    # ------------------------------------------------------------------ user API
    def score(self, X: Any, **kwargs: Any) -> np.ndarray:
        """Alias of :meth:`score_samples` (per-molecule OOD scores, higher = more OOD)."""
        return self.score_samples(X, **kwargs)

    def pvalues_from_scores(self, scores: np.ndarray) -> np.ndarray:
        """Split-conformal p-values ``(1 + #{cal ≥ s}) / (n_cal + 1)`` of given scores; small =
        OOD; NaN stays NaN."""
        self._check_is_fitted()
        return conformal_pvalues(self.cal_scores_, scores)

    def pvalue(self, X: Any, **kwargs: Any) -> np.ndarray:
        """Conformal p-value per input (float64, NaN when not scorable)."""
        return self.pvalues_from_scores(self.score_samples(X, **kwargs))

    def threshold(self, fpr: float | None = None) -> float:
        """Score threshold at ID false-positive rate ``fpr`` (default ``fpr_``): an input is
        flagged iff ``score > threshold`` (equivalently ``pvalue ≤ fpr``); ``+inf`` when fpr is
        below ``1 / (n_cal + 1)``, the smallest rate the calibration set resolves."""
        self._check_is_fitted()
        return conformal_threshold(self.cal_scores_, self._resolve_fpr(fpr))

    @property
    def fpr_floor(self) -> float:
        """The smallest fpr the calibration set resolves, ``1 / (n_cal + 1)``: below it nothing
        is flagged."""
        self._check_is_fitted()
        return 1.0 / (self.n_cal_ + 1)

    def warn_fpr_resolution(self, fpr: float | None, where: str) -> bool:
        """Warn loudly (UserWarning) when ``fpr`` (None: ``fpr_``) is below
        :attr:`fpr_floor`, where nothing can be flagged; returns whether it is."""
        msg = fpr_resolution_message(self.n_cal_, self._resolve_fpr(fpr))
        if msg is not None:
            warnings.warn(f"{where}: {msg}", UserWarning, stacklevel=3)
        return msg is not None

    def decision_function(self, X: Any, fpr: float | None = None, **kwargs: Any) -> np.ndarray:
        """``score − threshold(fpr)``: positive = flagged OOD (NaN when not scorable)."""
        return self.score_samples(X, **kwargs) - self.threshold(fpr)

    def predict(self, X: Any, fpr: float | None = None, **kwargs: Any) -> "pd.arrays.BooleanArray":
        """OOD flag per input at ID false-positive rate ``fpr`` (default ``fpr_``).

        Returns a pandas nullable ``boolean`` array: True = out-of-distribution, False =
        in-distribution, ``<NA>`` for inputs that could not be scored (an unparseable molecule
        is neither), as in the ``molood_is_ood`` column of a screen. ``np.asarray(flags,
        dtype=bool)`` raises on <NA>; choose with ``flags.fillna(...)``.
        """
        import pandas as pd

        fpr = self._resolve_fpr(fpr)
        scores = self.score_samples(X, **kwargs)
        flags = pd.array(ood_flags(self.pvalues_from_scores(scores), fpr), dtype="boolean")
        flags[np.isnan(scores)] = pd.NA
        return flags

    # ------------------------------------------------------------------ explanations
    reference_: "ReferenceSet | None" = None
    """Training molecules kept for nearest-neighbour look-ups (None: the model has none)."""

    def score_terms(self, X: Any) -> list["ScoreTerms"]:
        """Each input's score split into terms (:class:`~molood.detectors.terms.ScoreTerms`).

        This default has one term, the score itself, and no atom-level part; detectors whose
        score has parts (SEGO: a molecule-level and an atom-level term) override it."""
        from molood.detectors.terms import ScoreTerms

        scores = self.score_samples(X)
        return [ScoreTerms(float(s), "ok", {"score": float(s)},
                           meaning={"score": "the detector's score"}) if np.isfinite(s)
                else ScoreTerms(float("nan"), "not scored") for s in scores]

    def explain(self, X: Any, *, k: int = 3, reference: Any = None, fpr: float | None = None
                ) -> list["Explanation"]:
        """Why each input scores as it does: per-atom contributions, the ``k`` nearest
        reference (training) molecules and a short reason text (:func:`molood.explain.explain`;
        ``reference``: SMILES, a library file or a ReferenceSet, for models without one)."""
        from molood.explain import explain

        return explain(self, X, k=k, reference=reference, fpr=fpr)

    def _reference_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The reference set's tensors and manifest entry (empty when there is none)."""
        if self.reference_ is None:
            return {}, {}
        tensors, meta = self.reference_.to_tensors()
        return tensors, {"reference": meta}

    def _restore_reference(self, manifest: dict[str, Any],
                           tensors: dict[str, np.ndarray]) -> None:
        from molood.chem.reference import ReferenceSet

        self.reference_ = ReferenceSet.from_tensors(tensors, manifest.get("reference"))

    # ------------------------------------------------------------------ model files
    def save(self, path: str | os.PathLike) -> None:
        """Write a ``.molood`` model file (safetensors + JSON manifest; never pickle)."""
        from molood.persist import save_model

        save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "BaseDetector":
        """Load a model file (never executes code from it); TypeError if it holds another
        detector class."""
        from molood.persist import load_model

        det = load_model(path)
        if not isinstance(det, cls):
            raise TypeError(f"{os.fspath(path)} holds a {type(det).__name__}, not a "
                            f"{cls.__name__}")
        return det
