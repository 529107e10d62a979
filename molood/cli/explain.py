"""``molood explain``: why a model scores molecules as it does, as text (and SVG).

Calls :func:`molood.explain.explain`; ``--svg`` writes the depiction of
:meth:`molood.explain.core.Explanation.to_svg`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from molood.cli.main import errors, setup_logging

__all__ = ["explain"]


def _svg_paths(svg: str, n: int) -> list[Path]:
    """``FILE`` for one molecule; ``FILE-1.svg``, ``FILE-2.svg``, ... for several."""
    p = Path(svg)
    if n == 1:
        return [p]
    return [p.with_name(f"{p.stem}-{i}{p.suffix or '.svg'}") for i in range(1, n + 1)]


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("smiles", nargs=-1, required=True)
@click.option("-k", "--neighbours", "k", type=click.IntRange(min=0), default=3,
              show_default=True, help="Nearest training molecules to list.")
@click.option("--reference", type=click.Path(dir_okay=False), default=None,
              help="Library file of training molecules for nearest neighbours, for a model "
                   "file without a reference set.")
@click.option("--fpr", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="False-positive rate of the flag [default: the model's].")
@click.option("--svg", type=click.Path(dir_okay=False), default=None,
              help="Write the depiction (atoms coloured by contribution, beside the nearest "
                   "training molecule) to this SVG file (FILE-1.svg, ... for several).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@errors
def explain(model: str, smiles: tuple[str, ...], k: int, reference: str | None,
            fpr: float | None, svg: str | None, as_json: bool) -> None:
    """Explain the OOD scores of SMILES under MODEL (a model file, `default` for the bundled
    hybrid model or `sego` for the bundled SEGO model).

    For each molecule: the score and its terms, the contribution of every atom, the nearest
    training molecules and the reasons. For the hybrid detector the reason is the rule a
    molecule breaks or its most unusual evidence. For SEGO the score is a global
    (whole-molecule) term plus a local term; an atom's contribution is its share of the local
    term, (l_i - mu_n) / (sd_n * n), so the contributions add up to the local term. Positive = the
    atom makes the molecule look more OOD; "above noise" = larger than the level exceeded by
    about 1 % of the atoms of held-out training molecules. Atoms marked * have an element or
    an environment (Morgan radius <= 1) that no training molecule has.

    \b
    Examples:
      molood explain default "O=[Se](O)O"
      molood explain sego "O=[Se](O)O"
      molood explain my.molood "CCOc1ccccc1[Se]C" --svg why.svg
      molood explain old.molood "c1ccccc1" --reference train.csv -k 5
    """
    from molood.explain.core import explain as run
    from molood.persist import sego_model_path
    from molood.screening.models import get_model, model_path

    setup_logging(quiet=True)
    path = {"default": None, "sego": sego_model_path()}.get(model, model)
    det = get_model(path)
    out = run(det, list(smiles), k=k, reference=reference, fpr=fpr,
              model_path=model_path(path))
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in out], indent=2))
    else:
        click.echo("\n\n".join(e.to_text() for e in out))
    if svg:
        for e, p in zip(out, _svg_paths(svg, len(out))):
            from molood._fs import write_text_atomic

            write_text_atomic(p, e.to_svg())
            click.echo(f"molood: wrote {p}", err=True)
