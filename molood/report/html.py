"""The report as one self-contained HTML file: inline CSS, inline SVG, no script, no network.

Sections: header (library, counts, fpr and threshold, model, date), the score histogram, the
top N molecules as cards (depiction with atom highlights beside the nearest training molecule,
score, p-value, reason), the reasons among them, and the invalid rows by status. The file is
written piece by piece (a card's depictions are drawn when the card is written), atomically.
"""

from __future__ import annotations

import datetime as _dt
import html
import os
from collections import Counter
from typing import IO, TYPE_CHECKING, Sequence

import numpy as np

from molood.explain.reasons import REASON_TITLES

if TYPE_CHECKING:  # pragma: no cover
    from molood.explain.core import Explanation
    from molood.report.model import ModelSummary
    from molood.report.summary import ScreenedSummary, TopRow

__all__ = ["write_report", "CSS"]

esc = html.escape

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
  max-width:1400px;padding:16px 24px;color:#222;background:#fafafa}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin:1.4em 0 .5em;
  border-bottom:1px solid #ddd;padding-bottom:.2em}
table.kv td{padding:2px 14px 2px 0;vertical-align:top}table.kv td:first-child{color:#666}
table.grid{border-collapse:collapse}table.grid td,table.grid th{border:1px solid #ddd;
  padding:3px 8px;text-align:left}table.grid th{background:#f0f0f0}
.warn{background:#fff3cd;border:1px solid #e0c36a;padding:6px 10px;margin:8px 0}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:14px}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 12px}
.card header{font-weight:600;margin-bottom:4px}.rank{color:#888;margin-right:.4em}
.name{font-weight:400;color:#555;margin-left:.4em}
.pics{display:flex;gap:6px}.pics figure{margin:0;text-align:center;font-size:.82em;color:#555}
.pics svg{display:block}.num{font-variant-numeric:tabular-nums}
.flag{color:#b02a2a;font-weight:600}.reason{font-style:italic;margin-top:3px}
code{font-size:.8em;word-break:break-all;color:#444}.muted{color:#777;font-size:.9em}
"""

_PIC = (260, 200)


def _num(x: float | None, spec: str = ".3g") -> str:
    return "–" if x is None or not np.isfinite(x) else format(x, spec)


def _header(out: IO[str], s: "ScreenedSummary", m: "ModelSummary | None", fpr: float | None,
            threshold: float | None, title: str) -> None:
    pct = lambda k: f"{k:,} ({100 * k / s.rows:.1f} %)" if s.rows else f"{k:,}"  # noqa: E731
    rate = ""
    if fpr and s.scored:
        ratio = s.flag_rate / fpr
        rate = (f"{100 * s.flag_rate:.1f} % of scored molecules flagged, {ratio:.1f}× the "
                f"{100 * fpr:g} % expected of in-distribution molecules")
    rows = [("library", esc(os.path.basename(s.metadata.get("molood_input") or s.source))
             + f" <span class='muted'>({esc(s.source)})</span>"),
            ("rows", f"{s.rows:,}"), ("scored", pct(s.scored)), ("invalid", pct(s.n_invalid)),
            ("flagged OOD", f"<span class='flag'>{pct(s.flagged)}</span>"),
            ("fpr, threshold", f"{_num(fpr, 'g')}, score &gt; {_num(threshold, '.4g')}"),
            ("flag rate", esc(rate) or "–")]
    if m is not None:
        ts, v = m.training_set, m.versions
        rows += [("model", esc(m.label) + (f" <span class='muted'>sha256 {esc(m.sha256)}</span>"
                                           if m.sha256 else "")),
                 ("training set", f"{_num(ts.get('n_fit'), ',')} molecules, canonical-SMILES "
                                  f"sha256 <span class='muted'>{esc(str(ts.get('smiles_sha256')))}"
                                  "</span>"),
                 ("model versions", esc(", ".join(f"{k} {val}" for k, val in v.items())) or "–"),
                 ("reference set", esc(f"{len(m.reference):,} of {m.reference.n_source:,} "
                                       f"molecules ({m.reference.source})")
                  if m.reference is not None else "none (no nearest neighbours)")]
    else:
        rows.append(("model", "not found: no calibration histogram, highlights or neighbours "
                              "(pass --model)"))
    import molood

    rows.append(("report", f"molood {molood.__version__}, "
                           f"{_dt.datetime.now().astimezone().isoformat(timespec='seconds')}"))
    out.write(f"<header><h1>{esc(title)}</h1><table class='kv'>")
    out.write("".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows))
    out.write("</table>")
    for w in (m.warnings if m is not None else []):
        out.write(f"<div class='warn'>{esc(w)}</div>")
    out.write("</header>\n")


def _card(out: IO[str], rank: int, t: "TopRow", e: "Explanation | None") -> None:
    label = t.label or f"row {t.row}"
    name = f"<span class='name'>{esc(t.name)}</span>" if t.name else ""
    out.write(f"<article class='card' id='mol-{rank}'><header><span class='rank'>#{rank}</span>"
              f"<span class='label'>{esc(label)}</span>{name}</header><div class='pics'>")
    q = e.svg(_PIC) if e is not None else None
    if q is not None:
        out.write(f"<figure class='depiction query'>{q}<figcaption>row {t.row}"
                  "</figcaption></figure>")
    nb = e.neighbour_svg(_PIC) if e is not None else None
    if nb is not None and e is not None:
        n = e.neighbours[0]
        out.write(f"<figure class='depiction neighbour'>{nb}<figcaption>nearest training "
                  f"molecule: {esc(n.label[:60])}<br>Tanimoto <b>{n.similarity:.2f}</b>"
                  "</figcaption></figure>")
    out.write("</div>")
    flag = "<span class='flag'>flagged</span>" if t.is_ood else "not flagged"
    terms = ""
    if e is not None and e.terms and set(e.terms) != {"score"}:
        terms = " (" + ", ".join(f"{k} {v:+.2f}" for k, v in e.terms.items()) + ")"
    out.write(f"<div class='num'>score <b>{t.score:.2f}</b>{esc(terms)}, p = {_num(t.pvalue)}"
              f", {flag}</div>")
    if e is not None:
        out.write(f"<div class='reason'>{esc(e.reason)}</div>")
    if t.kind == "smiles" and t.molecule:
        out.write(f"<code>{esc(t.molecule)}</code>")
    out.write("</article>\n")


def _reasons(out: IO[str], expl: Sequence["Explanation | None"]) -> None:
    counts: Counter[str] = Counter()
    example: dict[str, str] = {}
    for e in expl:
        for r in (e.reasons if e is not None else []):
            counts[r.code] += 1
            example.setdefault(r.code, r.text)
    n = sum(e is not None for e in expl)
    out.write(f"<section id='reasons'><h2>Reasons among the top {n}</h2>")
    if not counts:
        out.write("<p class='muted'>No explanations (no molecules, or no model).</p></section>")
        return
    out.write("<table class='grid'><tr><th>reason</th><th>molecules</th><th>example</th></tr>")
    for code, k in counts.most_common():
        out.write(f"<tr><td>{esc(REASON_TITLES.get(code, code))}</td><td class='num'>{k}</td>"
                  f"<td>{esc(example[code])}</td></tr>")
    out.write("</table></section>\n")


def _invalid(out: IO[str], s: "ScreenedSummary") -> None:
    out.write(f"<section id='invalid'><h2>Invalid rows ({s.n_invalid:,})</h2>")
    if not s.invalid:
        out.write("<p class='muted'>Every row was scored.</p></section>")
        return
    out.write("<table class='grid'><tr><th>status</th><th>rows</th><th>first rows (0-based)"
              "</th><th>first message</th></tr>")
    for g in sorted(s.invalid.values(), key=lambda g: -g.count):
        more = ", …" if g.count > len(g.rows) else ""
        out.write(f"<tr><td>{esc(g.kind)}</td><td class='num'>{g.count:,}</td><td class='num'>"
                  f"{', '.join(map(str, g.rows))}{more}</td><td><code>{esc(g.example[:200])}"
                  "</code></td></tr>")
    out.write("</table></section>\n")


def write_report(path: str | os.PathLike, s: "ScreenedSummary", m: "ModelSummary | None",
                 explanations: Sequence["Explanation | None"], histogram: str, *,
                 fpr: float | None, threshold: float | None, title: str) -> None:
    """Write the report (module docstring) to ``path`` atomically."""
    from molood._fs import atomic_path
    from molood.explain.render import COLOUR_NOTE

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
        out.write(f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
                  f"<title>{esc(title)}</title><style>{CSS}</style></head><body>\n")
        _header(out, s, m, fpr, threshold, title)
        out.write(f"<section id='histogram'><h2>Scores</h2><figure class='histogram'>{histogram}"
                  "</figure></section>\n")
        out.write(f"<section id='top'><h2>The {len(s.top)} most out-of-distribution molecules"
                  f"</h2><p class='muted'>Atom colours: {esc(COLOUR_NOTE)}. Rows are 0-based."
                  "</p><div class='cards'>\n")
        for rank, (t, e) in enumerate(zip(s.top, explanations), start=1):
            _card(out, rank, t, e)
        out.write("</div></section>\n")
        _reasons(out, explanations)
        _invalid(out, s)
        out.write("</body></html>\n")
