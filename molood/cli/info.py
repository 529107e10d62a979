"""``molood info``: describe a model file from its manifest, without loading the model.

Reads :func:`molood.persist.read_manifest` (JSON header of the safetensors file; no code in
the file is executed, torch is not imported) and prints it as a short report or as JSON.
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from molood.cli.main import errors

__all__ = ["info", "describe"]


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def _num(x: Any, spec: str = ".4g") -> str:
    return "-" if x is None else format(x, spec) if isinstance(x, (int, float)) else str(x)


def _smallest_fpr(n_cal: Any) -> str:
    return f"{1 / (int(n_cal) + 1):.4g}" if isinstance(n_cal, int) else "-"


def _source(ts: dict[str, Any]) -> str:
    """Where the training molecules came from (``molood train`` records it), or "-"."""
    src = ts.get("source")
    if not isinstance(src, dict):
        return "-"
    column = src.get("smiles_col")
    return (f"{src.get('file', '?')}, {'column ' + str(column) if column else 'SD records'}, "
            f"{_num(src.get('rows'), ',')} rows, {_num(src.get('skipped'), ',')} skipped as "
            "invalid")


def _standardization(feat: dict[str, Any]) -> str:
    """The standardisation line: the steps a model runs before featurizing, from its
    manifest (no RDKit needed; :mod:`molood.chem.standardize` says what they do)."""
    steps = feat.get("standardize")
    if not isinstance(steps, dict):
        return "none: molecules are scored as written (a model from before standardisation)"
    on = [k for k, v in steps.items() if v]
    off = [k for k, v in steps.items() if not v]
    return (f"{', '.join(on) or 'no chemical steps'}"
            f"{' (off: ' + ', '.join(off) + ')' if off else ''}; canonical atom order")


def describe(path: str, manifest: dict[str, Any], sha: str, size: int) -> str:
    """The human-readable report of ``molood info`` for a model's manifest."""
    v = manifest.get("versions") or {}
    ts = manifest.get("training_set") or {}
    cal = manifest.get("calibration") or {}
    tt = manifest.get("training_time_s") or {}
    feat = manifest.get("featurizer") or {}
    params = manifest.get("params") or {}
    hist = manifest.get("history") or []
    num = _num

    thr = cal.get("threshold")
    hybrid = "components" in manifest
    kind = (f"components {', '.join(manifest['components'])}" if hybrid
            else f"mode {manifest.get('mode')!s}")
    lines = [
        f"model          {path}",
        f"sha256         {sha}",
        f"size           {_fmt_bytes(size)}",
        f"format         {manifest.get('format')} v{manifest.get('format_version')}, "
        f"{manifest.get('detector', '?')}, {kind}, seed {manifest.get('seed')!s}",
        "written by     " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "",
        "training set",
        (f"  molecules    {num(ts.get('n_fit'), ',')}" if hybrid else
         f"  molecules    {num(ts.get('n_fit'), ',')} ({num(ts.get('n_train'), ',')} trained "
         f"on, {num(ts.get('n_val'), ',')} held out)"),
        f"  source       {_source(ts)}",
        f"  smiles sha256  {ts.get('smiles_sha256') or '-'}",
        f"  graphs sha256  {ts.get('graphs_sha256') or '-'}",
        *([f"  time         {num(tt.get('total'), '.1f')} s (training "
           f"{num(tt.get('train'), '.1f')} s, coding trees {num(tt.get('trees'), '.1f')} s)"]
          if tt else []),  # format-1 files only: timings would make retrained files differ
        "",
        "calibration",
        f"  {'ID scores' if hybrid else 'held-out ID scores'}  {num(cal.get('n_cal'))} "
        f"({cal.get('source', '-')})",
        f"  smallest fpr {_smallest_fpr(cal.get('n_cal'))} (= 1/(n_cal+1); below it nothing "
        "is flagged)",
        f"  default fpr  {num(cal.get('fpr'))}, threshold "
        f"{num(thr) if thr is not None else 'inf (fpr below 1/(n_cal+1): nothing is flagged)'}",
        *([] if hybrid else ["  z-score stats  " + ", ".join(
            f"{k} {num(x)}" for k, x in (cal.get("stats") or {}).items())]),
        *(["  component nulls  " + ", ".join(f"{c} {n}" for c, n in
                                             (cal.get("nulls") or {}).items())] if hybrid
          else []),
        "",
        "standardize    " + _standardization(feat),
        "featurizer     " + ", ".join(f"{k} {val}" for k, val in feat.items()
                                      if k != "standardize"),
        "hyperparameters",
    ]
    shown = {k: val for k, val in params.items() if k not in ("verbose", "tree_cache")}
    keys = list(shown)
    for i in range(0, len(keys), 4):
        lines.append("  " + "  ".join(f"{k}={shown[k]}" for k in keys[i:i + 4]))
    if hybrid:
        nb = manifest.get("neighbors") or {}
        ref = manifest.get("reference") or {}
        if nb.get("index"):
            graph = nb.get("hnsw") or {}
            how = (f" (graph: connectivity {graph.get('connectivity')}, expansion "
                   f"{graph.get('expansion_add')} to build, {graph.get('expansion_search')} to "
                   f"search)" if graph else "")
            lines.append(f"neighbours     {nb['index']} search over "
                         f"{num(ref.get('n'), ',')} training molecules{how}")
    if hist:
        lines.append(f"training       {len(hist)} epochs run (epochs={params.get('epochs')}, "
                     f"max_steps={params.get('max_steps')}), on one torch thread: the same "
                     "file, versions and parameters give the same model on any core count")
        last = hist[-1]
        losses = ", ".join(f"{k} {num(val)}" for k, val in last.items()
                           if k.startswith("loss"))
        lines.append(f"last epoch     {last.get('epoch', len(hist))}: {losses}")
    return "\n".join(lines)


@click.command()
@click.argument("model", required=False, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True,
              help="Print the whole manifest as JSON (plus path, sha256 and size_bytes).")
@errors
def info(model: str | None, as_json: bool) -> None:
    """Describe a model file: training set, calibration, standardisation, hyperparameters
    and versions.

    MODEL defaults to the bundled model. The report goes to stdout; "default fpr" is the
    false-positive rate `molood screen` flags at when given no --fpr. Reading a model's
    manifest never executes code from the file and does not load torch.

    \b
    Examples:
      molood info
      molood info my.molood --json | jq .calibration
    """
    import hashlib

    from molood.persist import default_model_path, read_model_file

    path = model if model is not None else str(default_model_path())
    if not os.path.isfile(path):
        raise click.ClickException(f"model file not found: {path}" + (
            "" if model is not None else " (build the bundled model with `make model`)"))
    raw, manifest = read_model_file(path)
    sha, size = hashlib.sha256(raw).hexdigest(), len(raw)
    if as_json:
        click.echo(json.dumps({"path": path, "sha256": sha, "size_bytes": size, **manifest},
                              indent=2))
    else:
        click.echo(describe(path, manifest, sha, size))
