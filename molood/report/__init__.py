"""HTML screening reports: ``molood report``, ``molood screen --report``, ``df.molood.report()``.

:func:`build_report` streams a screened file once (:mod:`.summary`: counts, fixed-bin
histogram, top N by a heap, invalid rows by status), explains only the top N
(:mod:`molood.explain`; with the model's atom highlights when a model is found and
``highlights`` is on — the only step that imports torch), and writes one self-contained HTML
file (:mod:`.html`, with the histogram from :mod:`.plots`). Importing this package imports
neither torch nor RDKit.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from molood.report.model import ModelSummary, resolve_model
from molood.report.source import ScreenedSource, frame_source, open_screened
from molood.report.summary import ScreenedSummary, summarize

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from molood.detectors.base import BaseDetector
    from molood.explain.core import Explanation

__all__ = ["build_report", "report_frame", "report_source", "ReportResult", "open_screened",
           "frame_source"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportResult:
    """What :func:`build_report` wrote: the path, the summary, the model (None if none was
    found) and the timings of the pass over the rows and of the whole report."""

    path: str
    summary: ScreenedSummary
    model: ModelSummary | None
    scan_seconds: float
    seconds: float

    def __str__(self) -> str:
        s = self.summary
        return (f"report of {s.rows:,} rows ({s.scored:,} scored, {s.n_invalid:,} invalid, "
                f"{s.flagged:,} flagged, top {len(s.top)}) in {self.seconds:.1f} s -> "
                f"{self.path}")


def _fpr_threshold(s: ScreenedSummary, m: ModelSummary | None, fpr: float | None
                   ) -> tuple[float | None, float | None]:
    """The fpr the file's flags were set at and its threshold: from the screen's metadata,
    else ``fpr``, else the model's default."""
    md = s.metadata
    if "molood_fpr" in md:
        thr = float(md["molood_threshold"]) if md.get("molood_threshold") else None
        return float(md["molood_fpr"]), thr
    if m is not None:
        from molood.detectors.calibration import conformal_threshold

        if fpr is None:
            fpr = float((m.manifest.get("calibration") or {}).get("fpr", 0.05))
        return fpr, conformal_threshold(m.cal_scores, fpr)
    return fpr, None


def _molecules(s: ScreenedSummary) -> list[Any]:
    """The top rows' molecules as explain takes them (SMILES, or Mols from mol blocks)."""
    from molood.chem.parse import parse_molblock

    return [t.molecule if t.kind == "smiles" else parse_molblock(t.molecule)[0]
            for t in s.top]


def _explain_top(s: ScreenedSummary, m: ModelSummary | None, highlights: bool,
                 fpr: float | None) -> list["Explanation | None"]:
    from molood.explain.core import explain, explain_scored

    if not s.top:
        return []
    items = _molecules(s)
    labels = [t.label for t in s.top]
    ref = m.reference if m is not None else None
    if m is not None and highlights:
        det = m.detector
        if det is None:  # scoring-only: the same scores and terms, without DGL's imports
            from molood.persist import load_scoring_model

            det = load_scoring_model(m.path)
        return list(explain(det, items, k=1, reference=ref, fpr=fpr, labels=labels))
    return list(explain_scored(items, [t.score for t in s.top], [t.pvalue for t in s.top],
                               [t.is_ood for t in s.top], ["ok"] * len(s.top), fpr=fpr,
                               reference=ref, k=1, labels=labels))


def report_source(source: ScreenedSource, output: str | os.PathLike, *,
                  model: "str | os.PathLike | BaseDetector | None" = None, top: int = 50,
                  reference: Any = None, highlights: bool = True, title: str | None = None,
                  fpr: float | None = None) -> ReportResult:
    """Write the report of a :class:`~molood.report.source.ScreenedSource` (see
    :func:`build_report`)."""
    from molood.report.html import write_report
    from molood.report.plots import histogram_svg

    t0 = time.perf_counter()
    s = summarize(source.batches(), source.path, top=top, smiles_col=source.smiles_col,
                  id_col=source.id_col, name_col=source.name_col, metadata=source.metadata)
    logger.info("report: read %s rows in %.1f s", f"{s.rows:,}", s.seconds)
    m = resolve_model(model, s.metadata, reference)
    fpr, threshold = _fpr_threshold(s, m, fpr)
    expl = _explain_top(s, m, highlights, fpr)
    hist = histogram_svg(s.histogram, m.cal_scores if m is not None else None, threshold, fpr,
                         s.flag_rate if s.scored else None)
    name = os.path.basename(s.metadata.get("molood_input") or source.path)
    write_report(output, s, m, expl, hist, fpr=fpr, threshold=threshold,
                 title=title or f"molood screening report: {name}")
    return ReportResult(os.fspath(output), s, m, s.seconds, time.perf_counter() - t0)


def build_report(screened: str | os.PathLike, output: str | os.PathLike, *,
                 model: "str | os.PathLike | BaseDetector | None" = None, top: int = 50,
                 reference: Any = None, highlights: bool = True, smiles_col: str | None = None,
                 id_col: str | None = None, name_col: str | None = None,
                 title: str | None = None, fpr: float | None = None) -> ReportResult:
    """Write the HTML report of a screened file (the output of ``molood screen``).

    Parameters
    ----------
    screened : path
        A screened ``.parquet``, ``.csv``/``.tsv`` (``.gz``) or ``.sdf`` file.
    output : path
        The HTML file to write (atomically).
    model : path or detector, optional
        The model; default the one the screen recorded in the Parquet metadata, if that file
        still exists (:func:`~molood.report.model.resolve_model`).
    top : int
        How many of the highest-scoring molecules to show (and explain).
    reference : optional
        Molecules for nearest neighbours when the model has no reference set (SMILES list,
        library file or :class:`~molood.chem.reference.ReferenceSet`).
    highlights : bool
        Colour atoms by the model's contributions (loads the model: imports torch). Without,
        neighbours and reference-based reasons are still given.
    smiles_col, id_col, name_col : str, optional
        Columns of the molecule, its ID and its name (default: detected).
    fpr : float, optional
        For files without molood metadata (CSV, SD): the false-positive rate their flags were
        set at (default: the model's). A Parquet file's recorded fpr always wins.
    """
    source = open_screened(screened, smiles_col, id_col, name_col)
    return report_source(source, output, model=model, top=top, reference=reference,
                         highlights=highlights, title=title, fpr=fpr)


def report_frame(df: "pd.DataFrame", output: str | os.PathLike, *, smiles_col: str | None = None,
                 model: "str | os.PathLike | BaseDetector | None" = None, top: int = 50,
                 reference: Any = None, highlights: bool = True, id_col: str | None = None,
                 name_col: str | None = None, fpr: float | None = None,
                 title: str | None = None) -> ReportResult:
    """The report of a DataFrame's molecules (``df.molood.report()``): scored with ``model``
    (default the bundled one) unless the frame already has the result columns; labelled by
    its ID column, or by its index when that is not a plain range."""
    import pandas as pd

    from molood.io.formats import find_smiles_column
    from molood.screening.columns import SCORE_COLUMN

    col = find_smiles_column(list(df.columns), smiles_col, source="DataFrame")
    frame = df
    if SCORE_COLUMN not in df.columns:
        from molood.screening.scoring import score_frame

        frame = pd.concat([df, score_frame(df, smiles_col=col, model=model, fpr=fpr)], axis=1)
    if id_col is None and not isinstance(frame.index, pd.RangeIndex):
        frame = frame.assign(**{"index": [str(i) for i in frame.index]})
        id_col = "index"
    if model is None:
        from molood.persist import default_model_path

        model = default_model_path()
    source = frame_source(frame.reset_index(drop=True), col, id_col, name_col,
                          label=title or "DataFrame")
    return report_source(source, output, model=model, top=top, reference=reference,
                         highlights=highlights, title=title, fpr=fpr)
