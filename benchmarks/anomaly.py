#!/usr/bin/env python
"""Graph-level anomaly detection inside one data set (SEGO paper Table 2), GOOD-D's AD protocol.

Protocol (``molood.evaluation.anomaly``; source: GOOD-D's code, ``yixinliu233/G-OOD-D`` @89d00d0,
``data_loader.get_ad_split_TU`` / ``get_ad_dataset_TU`` and ``main.py``): the smallest graph
label is the anomaly class; ``StratifiedKFold(5, shuffle=True, random_state=0)``; trial t trains
on the normal graphs of the other 4 folds and tests on all of fold t; model seed t + 1; last-epoch
AUROC; mean ± population std over the 5 trials. Basic view = the data set's node features
(label one-hot + attributes; constant 1 for IMDB-BINARY), as GOOD-D's AD loader does.

Hyper-parameters are fixed before any test score is seen: GOOD-D's AD scripts' α and batch size
per data set, epochs = min(GOOD-D's, ``--max-epochs``) (compute budget); nothing is selected on
test folds. Results are appended to a JSON file (resumable: a record with the same data set,
method, trial and epochs is not recomputed) and rendered to markdown.

Examples::

    python benchmarks/anomaly.py --methods wl_knn
    python benchmarks/anomaly.py --methods molood,molood_faithful --threads 1
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, REPO / "benchmarks"):
    if str(p) not in sys.path:  # run as a script from anywhere without installing
        sys.path.insert(0, str(p))

from ood_pairs import (  # noqa: E402
    append_record, default_data_dir, machine_info, parse_seeds, save_json)

import molood.evaluation.anomaly as ad  # noqa: E402
from molood.evaluation import aupr, auroc  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
GOODD_SOURCE = "yixinliu233/G-OOD-D@89d00d0 (data_loader.py get_ad_split_TU/get_ad_dataset_TU, main.py, script/ad_*.sh)"


@dataclass(frozen=True)
class ADSet:
    """One data set: GOOD-D's AD script settings (epochs, α, batch) and the paper's SEGO AUROC."""

    name: str          # short name used in tables
    folder: str        # TU folder under <data dir>/tu
    epochs: int        # GOOD-D script/ad_*.sh -num_epoch
    alpha: float       # GOOD-D -alpha
    batch_size: int    # GOOD-D -batch_size
    paper_sego: float  # SEGO Table 2, AUROC %
    features: bool = True  # node features as the basic view (False: constant 1, as GOOD-D)


SETS: dict[str, ADSet] = {s.name: s for s in [
    ADSet("ENZYMES", "ENZYMES", 400, 0.2, 128, 76.62),
    ADSet("DHFR", "DHFR", 20, 0.0, 128, 65.31),
    ADSet("BZR", "BZR", 400, 0.8, 128, 89.21),
    ADSet("NCI1", "NCI1", 400, 1.0, 64, 70.34),
    ADSet("IMDB-B", "IMDB-BINARY", 400, 0.2, 128, 66.48, features=False),
]}
METHODS = ("molood", "molood_faithful", "molood_inbatch", "molood_faithful_inbatch", "hybrid",
           "wl_knn")
WL_ITERATIONS, WL_K = 3, 5


def load_set(s: ADSet, data_dir: Path) -> tuple[Any, np.ndarray, int]:
    """(graphs with the AD basic view, graph labels, number of node-label one-hot columns)."""
    from molood.graphs.tu import read_tu, tu_label_vocab

    ga, labels = read_tu(data_dir / "tu", s.folder)
    vocab = tu_label_vocab(data_dir / "tu", s.folder)
    n_label_cols = sum(len(v) for v in vocab) if vocab else 0
    return (ad.feature_view(ga) if s.features else ga), labels, n_label_cols


def run_method(method: str, s: ADSet, ga, n_label_cols: int, split, epochs: int,
               args) -> tuple[np.ndarray, float, float]:
    """Scores of the test graphs (higher = more anomalous), train seconds, score seconds."""
    train, test = ga.take(split.train), ga.take(split.test)
    if method == "wl_knn":
        t0 = time.perf_counter()
        ftr = ad.wl_features(train, WL_ITERATIONS, n_label_cols)
        fte = ad.wl_features(test, WL_ITERATIONS, n_label_cols)
        return ad.wl_knn_scores(ftr, fte, WL_K), 0.0, time.perf_counter() - t0
    if method == "hybrid":  # graphs without molecules: neighbours in SEGO's embedding
        from molood.detectors.hybrid.detector import HybridDetector

        det = HybridDetector(epochs=epochs, seed=split.fold + 1, num_threads=args.threads,
                             verbose=args.verbose,
                             sego_params={"batch_size": s.batch_size, "alpha": s.alpha,
                                          "lr": 1e-4, "tree_height": 5})
        t0 = time.perf_counter()
        det.fit(train)
        t1 = time.perf_counter()
        return (np.asarray(det.score_samples(test), dtype=np.float64), t1 - t0,
                time.perf_counter() - t1)
    from molood.detectors.sego.detector import SEGODetector

    det = SEGODetector(epochs=epochs, batch_size=s.batch_size, lr=1e-4, alpha=s.alpha,
                       tree_height=5, seed=split.fold + 1,
                       mode="faithful" if "faithful" in method else "default",
                       val_fraction=0.1, num_threads=args.threads, verbose=args.verbose)
    t0 = time.perf_counter()
    det.fit(train)
    t1 = time.perf_counter()
    if method.endswith("_inbatch"):  # GOOD-D's AD test: the whole fold is one batch
        scores = det.score_in_batches(test, batch_size=len(test), random_state=split.fold + 1)
    else:
        scores = det.score_samples(test)
    return np.asarray(scores, dtype=np.float64), t1 - t0, time.perf_counter() - t1


# ------------------------------------------------------------------------------------- records
def _key(r: dict) -> tuple:
    return (r["dataset"], r["method"], int(r["trial"]), r.get("epochs"))


def load_results(path: Path) -> dict:
    import json

    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("protocol_source", GOODD_SOURCE)
    data.setdefault("records", [])
    data.setdefault("invocations", [])
    return data


def _fmt(vals: list[float], target: int) -> str:
    if not vals:
        return "–"
    cell = f"{np.mean(vals):.2f} ± {np.std(vals):.2f}"
    return cell if len(vals) >= target else f"{cell} ({len(vals)}/{target})*"


def render_markdown(data: dict, planted_md: str = "") -> str:
    """The results file: protocol, AUROC table vs the paper, sizes/timings, incomplete cells."""
    recs = data["records"]
    cols = sorted({_cell(r) for r in recs}, key=lambda c: (METHODS.index(c[0]), c[1] or 0))
    out = ["# Graph anomaly detection (SEGO Table 2), GOOD-D's AD protocol, leakage-free", "",
           "Generated by `benchmarks/anomaly.py` from `benchmarks/results/anomaly.json`; do not edit.", "",
           f"**Protocol** (source: GOOD-D's code, {GOODD_SOURCE}; SEGO released no AD script and "
           "says it follows GOOD-D):",
           "- **Normal class**: every class except the smallest graph label (PyG's class 0), which is "
           "the anomaly class: BZR/DHFR label −1, ENZYMES label 1, NCI1 and IMDB-BINARY label 0.",
           "- **Splits**: `StratifiedKFold(n_splits=5, shuffle=True, random_state=0)` over all graphs "
           "(stratified on the label); trial t tests on fold t (all its graphs, anomalies in their "
           "natural share) and trains on the *normal* graphs of the other 4 folds only. Train sizes "
           "match GOOD-D's README (ENZYMES 400/120, DHFR 368/152, BZR 69/81, NCI1 1646/822, "
           "IMDB-B 400/200). Train and test are disjoint (asserted); `SEGODetector` holds out 10% of "
           "the training graphs for its own calibration, no test graph is used for training or for "
           "any choice.",
           "- **Trials**: 5 (one per fold), model seed t + 1; AUROC of the last epoch (GOOD-D "
           "reports its last evaluation, epoch = num_epoch); mean ± population std (ddof 0).",
           "- **Input**: GOOD-D's AD loader keeps the node features (label one-hot + continuous "
           "attributes) as the basic view (constant 1 only for IMDB-BINARY); so does this run. The "
           "topological view (16 RW + 16 degree dims) and the tree leaves are as in the OOD runs.",
           "- **Hyper-parameters** (fixed a priori): α and batch size from GOOD-D's `script/ad_*.sh` "
           "(ENZYMES 0.2, DHFR 0, BZR 0.8, NCI1 1.0 / batch 64, IMDB-B 0.2); lr 1e-4, hidden 32, "
           "5 layers, tree height 5; epochs = min(GOOD-D's, the cap in the column name) — GOOD-D "
           "uses 400 (DHFR 20); the cap is the CPU budget of this run, not a tuned value.",
           "- **`*_inbatch`** (the paper's transductive test, for comparison only): the same "
           "trained model, but each test graph's global term is the in-batch InfoNCE against the "
           "other graphs of its test fold, scored as one batch as GOOD-D's AD code does "
           "(`batch_size_test` 9999; `SEGODetector.score_in_batches`). A score then depends on the "
           "other test graphs, anomalies included; the product never scores so.",
           "- **wl_knn** (floor): Weisfeiler–Lehman subtree histograms (3 rounds, start colour = "
           f"node label, degree for IMDB-B), cosine; score = mean distance to the {WL_K} nearest "
           "training graphs. No training.",
           "- **hybrid**: `HybridDetector` with its product defaults for graphs without molecules "
           "(score = 1 − cosine to the nearest training graph in SEGO's learned embedding, "
           "calibrated leave-one-out; SEGO trained on all the training graphs for the column's "
           "epochs, at most 2,000 steps, with the set's α and batch size).", ""]
    target = 5
    out += ["## AUROC (%) ↑, mean ± std over trials", ""]
    head = ["data set", "paper SEGO", "GOOD-D (published)"] + [_col_name(c) for c in cols]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    means: dict[tuple, list[float]] = {c: [] for c in cols}
    for name, s in SETS.items():
        row = [name, f"{s.paper_sego:.2f}", "n/a†"]
        for c in cols:
            vals = [r["auroc"] for r in recs if r["dataset"] == name and _cell(r) == c]
            row.append(_fmt(vals, target))
            if vals:
                means[c].append(float(np.mean(vals)))
        out.append("| " + " | ".join(row) + " |")
    row = ["**mean**", f"{np.mean([s.paper_sego for s in SETS.values()]):.2f}", "n/a†"]
    for c in cols:
        m = means[c]
        row.append("–" if not m else f"{np.mean(m):.2f}" if len(m) == len(SETS)
                   else f"({np.mean(m):.2f} over {len(m)}/{len(SETS)} sets)")
    out += ["| " + " | ".join(row) + " |", "",
            "`*` fewer than 5 trials measured (grid not complete). † GOOD-D's published AD AUROCs "
            "(GOOD-D paper, AD table) could not be retrieved in this session (no copy of the table "
            "in the reference corpus); they are left blank rather than quoted from memory.", ""]
    out += SHORTFALL
    out += ["## Sizes and time per trial", "",
            "| data set | method | epochs | n_train | n_test (anomalies) | train s | score s | AUPR % |",
            "|---|---|---|---|---|---|---|---|"]
    for name in SETS:
        for c in cols:
            rs = [r for r in recs if r["dataset"] == name and _cell(r) == c]
            if rs:
                out.append(f"| {name} | {c[0]} | {rs[0].get('epochs') or '–'} | {rs[0]['n_train']} | "
                           f"{rs[0]['n_test']} ({rs[0]['n_anomalies']}) | "
                           f"{np.mean([r['train_seconds'] for r in rs]):.1f} | "
                           f"{np.mean([r['score_seconds'] for r in rs]):.1f} | "
                           f"{np.mean([r['aupr'] for r in rs]):.2f} |")
    inv = data.get("invocations", [])
    if inv:
        m = inv[-1]["machine"]
        out += ["", f"Machine: {m['cpu_model']}, {m['usable_cores']} usable cores shared with other "
                f"work, torch threads 1; {len(inv)} invocation(s), "
                f"{sum(i.get('wall_seconds', 0.0) for i in inv) / 60:.1f} min wall."]
    if planted_md:
        out += ["", planted_md]
    return "\n".join(out) + "\n"


SHORTFALL = [
    "## Where it falls short, and why", "",
    "The target (mean ≥ the paper's 73.59 and above GOOD-D on each set) is **not met**: both "
    "SEGO modes are below the paper on every data set with molood's batch-independent score, "
    "and the training-free WL-kNN floor beats them on DHFR, BZR, NCI1 and IMDB-B. The hybrid "
    "detector (nearest training graph in SEGO's embedding) lifts the mean to 62.17 — above the "
    "paper on NCI1 (81.04 vs 70.34), level with WL-kNN there and on DHFR, below the paper on the "
    "other four — and stays below the WL-kNN mean (62.96): on these sets the embedding's "
    "neighbours are about as informative as WL histograms, and BZR's and ENZYMES' folds are too "
    "small for either to be stable. What differs from the paper's (unreleased) setup:",
    "- **Epochs**: capped at 100 (GOOD-D's AD scripts use 400, DHFR 20) to fit the CPU budget. "
    "The `epochs ≤ 400` column re-runs ENZYMES (default mode) at GOOD-D's 400 epochs as a check "
    "of the cap; ENZYMES because its 5 trials fit the budget left; reported as measured "
    "(there it changes nothing: 61.28 ± 8.84 at 400 vs 61.02 ± 10.75 at 100).",
    "- **Scoring** (measured: the `*_inbatch` columns): GOOD-D's AD code scores each test fold "
    "as one batch (`batch_size_test` 9999), so a test graph's contrastive loss is computed "
    "against the other *test* graphs (anomalies included) — transductive. molood scores every "
    "graph against a fixed bank of 127 training graphs, batch-independent (the product's "
    "contract). Scored the paper's way, models trained with the same seeds and settings gain "
    "1.7 (default, 58.77 → 60.46) and 3.8 points (faithful, 58.36 → 62.13) on the mean; "
    "faithful SEGO then beats the paper on NCI1 (72.11 vs 70.34) and matches it on IMDB-B "
    "(66.36 vs 66.48). On ENZYMES, DHFR and BZR it changes little (57.29, 54.72, 60.20 vs the "
    "paper's 76.62, 65.31, 89.21): there the gap is not the transductive test.",
    "- **No selection on test**: GOOD-D prints the test AUC every 10 epochs; SEGO's AD "
    "hyper-parameters (epochs, α) are unpublished. Here everything is fixed a priori and the "
    "last epoch is reported. 10% of each (small) training set is held out for calibration "
    "(BZR trains on 62 graphs).",
    "- **What the task asks**: the anomaly class is a *class label*, not a corruption: in BZR "
    "and NCI1 the \"anomalies\" are 79% / 50% of the test fold (one of two activity "
    "classes). A "
    "structure-only unsupervised model has no particular reason to find one activity class "
    "atypical; the fold-to-fold std (BZR: 17 normal test graphs per fold) is 8–11 points.",
    "- **GOOD-D's published AD figures** could not be retrieved, so the per-set comparison with "
    "GOOD-D is not made.", ""]


def _cell(r: dict) -> tuple:
    """Table column of a record: method and epoch cap (None for untrained methods)."""
    return (r["method"], r.get("cap"))


def _col_name(c: tuple) -> str:
    return c[0] + ("" if c[1] is None else f" (epochs ≤ {c[1]})")


# ----------------------------------------------------------------------------------------- CLI
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder with tu/ (default: $MOLOOD_SHARED_DATA or <repo>/../shared/data)")
    p.add_argument("--sets", default=",".join(SETS))
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--seeds", default="5", help="trials: N (1..N) or a list/range, 1-based")
    p.add_argument("--max-epochs", type=int, default=100, help="epoch cap (compute budget)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=RESULTS / "anomaly.json")
    p.add_argument("--md", type=Path, default=RESULTS / "anomaly.md")
    p.add_argument("--render-only", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    args.data_dir = args.data_dir or default_data_dir()
    args.sets = [x.strip() for x in args.sets.split(",") if x.strip()]
    args.methods = [x.strip() for x in args.methods.split(",") if x.strip()]
    args.trials = [t - 1 for t in parse_seeds(args.seeds)]
    for kind, vals, known in [("set", args.sets, SETS), ("method", args.methods, METHODS)]:
        bad = [v for v in vals if v not in known]
        if bad:
            p.error(f"unknown {kind}(s) {bad}; choose from {list(known)}")
    return args


def _planted_md(args) -> str:
    path = args.json.with_name("audit_planted.md")
    return path.read_text() if path.exists() else ""


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    data = load_results(args.json)
    if args.render_only:
        args.md.write_text(render_markdown(data, _planted_md(args)))
        return 0
    started = time.time()
    done = {_key(r) for r in data["records"]}
    inv = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "argv": list(argv or sys.argv[1:]),
           "machine": machine_info(), "runs": 0}
    for name in args.sets:
        s = SETS[name]
        loaded = None
        for t in args.trials:
            for method in args.methods:
                ep = None if method == "wl_knn" else min(s.epochs, args.max_epochs)
                if (name, method, t, ep) in done:
                    continue
                if loaded is None:
                    loaded = load_set(s, args.data_dir)
                    splits = ad.ad_splits(loaded[1])
                ga, _, n_label_cols = loaded
                split = splits[t]
                scores, t_tr, t_sc = run_method(method, s, ga, n_label_cols, split, ep or 0, args)
                rec = {"dataset": name, "method": method, "trial": t, "seed": t + 1, "epochs": ep,
                       "cap": None if ep is None else args.max_epochs,
                       "alpha": s.alpha, "batch_size": s.batch_size,
                       "n_train": int(len(split.train)), "n_test": int(len(split.test)),
                       "n_anomalies": int(split.y_test.sum()),
                       "auroc": 100 * auroc(split.y_test, scores),
                       "aupr": 100 * aupr(split.y_test, scores),
                       "train_seconds": round(t_tr, 2), "score_seconds": round(t_sc, 2)}
                append_record(data, inv, rec, started, args.json)
                print(f"{name} {method} trial={t} epochs={ep}: AUROC {rec['auroc']:.2f} "
                      f"({t_tr + t_sc:.1f}s)", flush=True)
    save_json(args.json, data)
    args.md.write_text(render_markdown(data, _planted_md(args)))
    print(f"wrote {args.json} and {args.md} ({time.time() - started:.0f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
