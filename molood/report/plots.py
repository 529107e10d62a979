"""The report's score histogram, drawn with matplotlib and inlined as SVG text.

matplotlib rather than hand-written SVG: axes, ticks, legends and text layout are its job.
The SVG is made reproducible (fixed element-id salt, no date) and keeps text as text
(``svg.fonttype = "none"``: small, selectable, drawn in the browser's sans-serif font).
"""

from __future__ import annotations

import io

import numpy as np

from molood.report.summary import ScoreHistogram

__all__ = ["histogram_svg", "display_range"]

_BINS = 80


def display_range(hist: ScoreHistogram, cal: np.ndarray | None, threshold: float | None
                  ) -> tuple[float, float]:
    """The score range to plot: the library's 0.1–99.9 % quantiles, widened to take in every
    calibration score and the threshold, plus a small margin."""
    lo, hi = hist.quantile(0.001), hist.quantile(0.999)
    extra = [v for v in ([threshold] if threshold is not None else []) if np.isfinite(v)]
    if cal is not None and cal.size:
        extra += [float(cal.min()), float(cal.max())]
    vals = [v for v in (lo, hi, *extra) if np.isfinite(v)]
    if not vals:
        return -1.0, 1.0
    lo, hi = min(vals), max(vals)
    pad = max(0.05 * (hi - lo), 0.1)
    return lo - pad, hi + pad


def histogram_svg(hist: ScoreHistogram, cal: np.ndarray | None, threshold: float | None,
                  fpr: float | None, flag_rate: float | None) -> str:
    """SVG text: the library's score distribution over the calibration (ID) scores, both as
    densities, with the flag threshold as a vertical line."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    lo, hi = display_range(hist, cal, threshold)
    edges, counts = hist.coarse(lo, hi, _BINS)
    widths = np.diff(edges)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "molood",
                                "font.family": "sans-serif", "font.size": 10}):
        fig, ax = plt.subplots(figsize=(8.0, 3.2), dpi=100)
        if hist.n:
            ax.bar(edges[:-1], counts / (hist.n * widths), width=widths, align="edge",
                   color="#4c72b0", alpha=0.75, label=f"library ({hist.n:,} scored)")
        if cal is not None and cal.size:
            ax.hist(cal, bins=edges, density=True, histtype="step", linewidth=1.8,
                    color="#dd8452", label=f"calibration ID molecules ({cal.size:,})")
        if threshold is not None and np.isfinite(threshold):
            txt = f"threshold {threshold:.2f}" + (f" (fpr {fpr:g})" if fpr else "")
            if flag_rate is not None and np.isfinite(flag_rate):
                txt += f": {100 * flag_rate:.1f} % flagged"
            ax.axvline(threshold, color="#c44e52", linestyle="--", linewidth=1.5, label=txt)
        outside = hist.n - int(counts.sum())
        ax.set_xlim(lo, hi)
        ax.set_xlabel("molood score (higher = more OOD)" +
                      (f";  {outside:,} library score{'s' if outside > 1 else ''} outside the "
                       "plotted range"
                       if outside > 0 else ""))
        ax.set_ylabel("density")
        ax.legend(loc="upper right", frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
        plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]
