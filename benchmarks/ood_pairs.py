#!/usr/bin/env python
"""Leakage-free re-run of SEGO's OOD-detection benchmark (paper Table 1) on 10 ID/OOD pairs.

Protocol (one split per seed, never the paper's double draw; see molood.evaluation):

- ID set → ⌊0.9·n⌋ ID-train / rest ID test (``paper_split``, seeds 1..N as in the paper's trials).
  Methods get the whole 90% ID-train; SEGODetector holds out its own ``val_fraction=0.1``
  (seeded) of it for calibration / model selection, so the 10%-calibration part of the protocol
  is inside ``fit``.
- OOD test = the first |ID test| OOD molecules/graphs in file order.
- ``paper`` protocol: no duplicate removal. ``dedup`` protocol: ID-test entries that also occur in
  ID-train (or repeat inside the ID test) are dropped, then OOD entries that occur anywhere in the
  ID set (or repeat) are dropped, and the OOD test is the first |ID test after dedup| remaining.
  Identity = canonical isomeric SMILES for molecules, 1-WL hash of the unlabelled graph for TU
  pairs (identical in the constant-feature basic view).
- ``leaky`` protocol (ablation only, never a result): the authors' double draw — same training
  split as ``paper``, but the ID test is the test part of a second permutation, so ~90% of it
  was trained on (spec §6). It measures how much of the paper's numbers the leak explains.

Results are appended to a JSON file (resumable: a record with the same pair, method, protocol,
seed and epochs is not recomputed) and rendered to markdown next to it (``--json x.json`` ->
``x.md``), so that a partial run (one pair, one seed, into its own ``--json``) never overwrites
the committed table ``results/ood_pairs.md``, which is rendered from ``results/ood_pairs.json``
only (``--render-only`` re-renders it; an explicit ``--md`` naming it with another JSON is
refused).

Examples::

    python benchmarks/ood_pairs.py --methods knn_tanimoto --pairs tox21-sider,bbbp-bace --seeds 5
    python benchmarks/ood_pairs.py --methods molood,molood_faithful --epochs-scale 0.1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere without installing
    sys.path.insert(0, str(REPO))

from molood.evaluation import (  # noqa: E402
    aupr,
    auroc,
    canonical_smiles,
    dedup_id_test,
    dedup_ood,
    fpr95,
    graph_hashes,
    knn_tanimoto_scores,
    leaky_split,
    paper_split,
)

RESULTS = REPO / "benchmarks" / "results"


# ----------------------------------------------------------------------------------- pair specs
@dataclass(frozen=True)
class Source:
    """One side of a pair: a CSV of SMILES (``kind="mol"``) or a TU dataset folder (``"tu"``)."""

    kind: str
    path: str          # mol: relative to data dir; tu: dataset name under <data dir>/tu
    column: str = "smiles"


@dataclass(frozen=True)
class Pair:
    name: str
    id: Source
    ood: Source
    epochs: int        # sego.sh num_epoch (spec §7)
    alpha: float       # sego.sh alpha (spec §7)
    paper_sego: float  # paper Table 1 AUROC %
    paper_goodd: float

    @property
    def kind(self) -> str:
        return self.id.kind


def _mol(path: str, col: str = "smiles") -> Source:
    return Source("mol", f"moleculenet/{path}", col)


def _tu(name: str) -> Source:
    return Source("tu", name)


PAIRS: dict[str, Pair] = {p.name: p for p in [
    Pair("tox21-sider", _mol("tox21.csv"), _mol("sider.csv"), 400, 0.7, 66.67, 66.50),
    Pair("freesolv-toxcast", _mol("freesolv.csv"), _mol("toxcast.csv.gz"), 400, 0.0005, 90.95, 80.13),
    Pair("bbbp-bace", _mol("BBBP.csv"), _mol("bace.csv", "mol"), 400, 0.5, 87.55, 82.91),
    Pair("clintox-lipo", _mol("clintox.csv"), _mol("lipo.csv"), 300, 0.001, 78.99, 69.18),
    Pair("esol-muv", _mol("delaney.csv"), _mol("muv.csv.gz"), 400, 0.5, 94.59, 91.52),
    Pair("bzr-cox2", _tu("BZR"), _tu("COX2"), 400, 0.5, 96.66, 94.99),
    Pair("ptc_mr-mutag", _tu("PTC_MR"), _tu("MUTAG"), 400, 0.1, 85.02, 81.21),
    Pair("aids-dhfr", _tu("AIDS"), _tu("DHFR"), 400, 0.0002, 99.48, 99.07),
    Pair("enzymes-proteins", _tu("ENZYMES"), _tu("PROTEINS"), 150, 0.5, 64.42, 61.84),
    Pair("imdb-multi-imdb-binary", _tu("IMDB-MULTI"), _tu("IMDB-BINARY"), 20, 0.0005, 80.27, 79.94),
]}
NAN = float("nan")
DEV_PAIRS: dict[str, Pair] = {p.name: p for p in [
    # the ten pairs of the paper's table in the reverse direction: development data for the
    # hybrid detector's choices (never the evaluation pairs). SEGO settings: product defaults.
    Pair("sider-tox21", _mol("sider.csv"), _mol("tox21.csv"), 400, 0.5, NAN, NAN),
    Pair("toxcast-freesolv", _mol("toxcast.csv.gz"), _mol("freesolv.csv"), 400, 0.5, NAN, NAN),
    Pair("bace-bbbp", _mol("bace.csv", "mol"), _mol("BBBP.csv"), 400, 0.5, NAN, NAN),
    Pair("lipo-clintox", _mol("lipo.csv"), _mol("clintox.csv"), 400, 0.5, NAN, NAN),
    Pair("muv-esol", _mol("muv.csv.gz"), _mol("delaney.csv"), 400, 0.5, NAN, NAN),
    Pair("cox2-bzr", _tu("COX2"), _tu("BZR"), 400, 0.5, NAN, NAN),
    Pair("mutag-ptc_mr", _tu("MUTAG"), _tu("PTC_MR"), 400, 0.5, NAN, NAN),
    Pair("dhfr-aids", _tu("DHFR"), _tu("AIDS"), 400, 0.5, NAN, NAN),
    Pair("proteins-enzymes", _tu("PROTEINS"), _tu("ENZYMES"), 400, 0.5, NAN, NAN),
    Pair("imdb-binary-imdb-multi", _tu("IMDB-BINARY"), _tu("IMDB-MULTI"), 400, 0.5, NAN, NAN),
]}
MOLECULAR = [n for n, p in PAIRS.items() if p.kind == "mol"]
PROTOCOLS = ("paper", "dedup", "leaky")
DEV = False  # set by --dev: PAIRS and MOLECULAR then hold the development pairs


def use_dev_pairs() -> None:
    """Swap the evaluation pairs for the development pairs (in place, for every function)."""
    global DEV
    DEV = True
    PAIRS.clear()
    PAIRS.update(DEV_PAIRS)
    MOLECULAR[:] = [n for n, p in PAIRS.items() if p.kind == "mol"]


# ------------------------------------------------------------------------------------- methods
@dataclass
class Method:
    """A scorer: ``run(train, test, pair, seed, epochs, args) -> scores`` (higher = more OOD).

    ``train``/``test`` are lists of SMILES for molecular pairs and GraphArrays for TU pairs.
    ``run`` returns ``(scores, train_seconds, score_seconds)``.
    """

    name: str
    kinds: frozenset[str]
    run: Callable[..., tuple[np.ndarray, float, float]]
    trained: bool = True  # uses epochs/alpha (part of the resume key)


def _run_knn(train, test, pair, seed, epochs, args):
    t0 = time.perf_counter()
    scores = knn_tanimoto_scores(train, test)
    return scores, 0.0, time.perf_counter() - t0


# Protocols and score variants share the training split of a seed (they differ only in the
# test sets or in how the test set is scored), so fitted detectors are kept for the current
# pair and reused: one fit per (pair, detector settings, seed, training size).
_FITS: dict[tuple, tuple[Any, float]] = {}


def _fitted(key: tuple, make: Callable[[], Any], train: Any,
            quiet: bool = False) -> tuple[Any, float]:
    """(detector, fit seconds) for ``key`` (its first item: the pair name): ``make()`` fitted
    on ``train`` the first time, the same detector afterwards; fits of other pairs are
    dropped. ``quiet``: silence the fit's UserWarnings (unparseable molecules skipped)."""
    if key not in _FITS:
        if any(k[0] != key[0] for k in _FITS):
            _FITS.clear()
        det = make()
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore", UserWarning)
            det.fit(train)
        _FITS[key] = (det, time.perf_counter() - t0)
    return _FITS[key]


def _sego_runner(mode: str, in_batch: bool = False
                 ) -> Callable[..., tuple[np.ndarray, float, float]]:
    def run(train, test, pair, seed, epochs, args):
        from molood.detectors.sego.detector import SEGODetector

        det, t_train = _fitted(
            (pair.name, mode, seed, epochs, len(train)),
            lambda: SEGODetector(
                epochs=epochs, batch_size=128, lr=1e-4, alpha=pair.alpha, tree_height=5,
                seed=seed, mode=mode, val_fraction=0.1, n_jobs=args.n_jobs,
                num_threads=args.threads, verbose=args.verbose),
            train)
        t1 = time.perf_counter()
        if in_batch:  # the authors' transductive test scoring: shuffled batches of 128
            scores = det.score_in_batches(test, batch_size=128, random_state=seed)
        else:
            scores = det.score_samples(test)
        return np.asarray(scores, dtype=np.float64), t_train, time.perf_counter() - t1
    return run


def _hybrid_runner(components: Any = "auto") -> Callable[..., tuple[np.ndarray, float, float]]:
    """The hybrid detector with its product defaults (one recipe for every pair), or an
    ablation with other ``components``."""
    def run(train, test, pair, seed, epochs, args):
        from molood.detectors.hybrid.detector import HybridDetector

        det, t_fit = _fitted(
            (pair.name, "hybrid", components, seed, len(train)),
            lambda: HybridDetector(components=components, seed=seed, n_jobs=args.n_jobs,
                                   num_threads=args.threads or 1, verbose=args.verbose,
                                   on_invalid="skip"),
            train, quiet=True)
        t1 = time.perf_counter()
        scores = det.score_samples(test)
        return np.asarray(scores, dtype=np.float64), t_fit, time.perf_counter() - t1
    return run


METHODS: dict[str, Method] = {m.name: m for m in [
    Method("hybrid", frozenset({"mol", "tu"}), _hybrid_runner(), trained=False),
    # ablations: one component alone, or the molecular recipe plus SEGO
    Method("hybrid_knn", frozenset({"mol"}), _hybrid_runner(("knn",)), trained=False),
    Method("hybrid_descriptors", frozenset({"mol"}), _hybrid_runner(("descriptors",)),
           trained=False),
    Method("hybrid_environments", frozenset({"mol"}), _hybrid_runner(("environments",)),
           trained=False),
    Method("hybrid_knn_env_desc", frozenset({"mol"}),
           _hybrid_runner(("knn", "environments", "descriptors")), trained=False),
    Method("hybrid_plus_sego", frozenset({"mol"}),
           _hybrid_runner(("knn", "descriptors", "sego")), trained=False),
    Method("hybrid_sego", frozenset({"mol", "tu"}), _hybrid_runner(("sego",)), trained=False),
    Method("hybrid_embedding", frozenset({"mol", "tu"}), _hybrid_runner(("embedding",)),
           trained=False),
    Method("molood", frozenset({"mol", "tu"}), _sego_runner("default")),
    Method("molood_faithful", frozenset({"mol", "tu"}), _sego_runner("faithful")),
    # ablations, not products: the same fitted models scored in shuffled ID+OOD test batches
    Method("molood_inbatch", frozenset({"mol", "tu"}), _sego_runner("default", True)),
    Method("molood_faithful_inbatch", frozenset({"mol", "tu"}), _sego_runner("faithful", True)),
    Method("knn_tanimoto", frozenset({"mol"}), _run_knn, trained=False),
]}


# ---------------------------------------------------------------------------------------- data
@dataclass
class PairData:
    """Everything about one pair that does not depend on the seed (loaded once per run)."""

    pair: Pair
    id_items: Any                 # list[str] SMILES or GraphArrays
    id_keys: list                 # canonical SMILES / graph hash per ID item
    ood_items: Any                # list[str] (whole OOD set, raw) or GraphArrays
    n_id_rows: int
    n_id_invalid: int
    ood_paper: np.ndarray         # positions of the first n_test valid OOD entries
    ood_dedup: np.ndarray         # positions of the first n_test OOD entries not in ID
    stats: dict = field(default_factory=dict)

    def take(self, which: str, idx: np.ndarray):
        items = self.id_items if which == "id" else self.ood_items
        if isinstance(items, list):
            return [items[i] for i in idx]
        return items.take(idx)

    def join(self, a, b):
        if isinstance(a, list):
            return a + b
        from molood.graphs.arrays import GraphArrays
        return GraphArrays.concat([a, b])


def _n_test(n_id: int) -> int:
    return n_id - int(n_id * 0.9)


def _read_smiles(data_dir: Path, src: Source) -> list[str]:
    import pandas as pd

    path = data_dir / src.path
    if not path.exists():
        raise FileNotFoundError(f"{path} not found (set --data-dir)")
    col = pd.read_csv(path, usecols=[src.column])[src.column]
    return [str(s) for s in col.tolist()]


def _first_valid(smiles: Sequence[str], n: int) -> np.ndarray:
    kept = []
    for i, c in enumerate(canonical_smiles(smiles[: n + 64])):
        if c is not None:
            kept.append(i)
    if len(kept) < n:  # very unlikely: scan the rest
        canon = canonical_smiles(smiles[n + 64:])
        kept += [n + 64 + i for i, c in enumerate(canon) if c is not None]
    return np.asarray(kept[:n], dtype=np.int64)


def load_pair(pair: Pair, data_dir: Path) -> PairData:
    if pair.kind == "mol":
        raw_id = _read_smiles(data_dir, pair.id)
        canon = canonical_smiles(raw_id)
        valid = [i for i, c in enumerate(canon) if c is not None]
        id_smiles = [raw_id[i] for i in valid]
        id_keys = [canon[i] for i in valid]
        ood = _read_smiles(data_dir, pair.ood)
        n = _n_test(len(id_smiles))
        ood_paper = _first_valid(ood, n)
        ood_dedup = dedup_ood(ood, id_smiles, n, id_canonical=id_keys)
        return PairData(pair, id_smiles, id_keys, ood, len(raw_id), len(raw_id) - len(valid),
                        ood_paper, ood_dedup)
    from molood.graphs.tu import read_tu_pair

    (gid, _), (good, _) = read_tu_pair(data_dir / "tu", pair.id.path, pair.ood.path)
    id_keys = graph_hashes(gid)
    ood_keys = graph_hashes(good)
    n = _n_test(len(gid))
    idset, seen, kept = set(id_keys), set(), []
    for i, k in enumerate(ood_keys):
        if k in idset or k in seen:
            continue
        seen.add(k)
        kept.append(i)
        if len(kept) >= n:
            break
    pd_ = PairData(pair, gid, id_keys, good, len(gid), 0, np.arange(min(n, len(good))),
                   np.asarray(kept, dtype=np.int64))
    pd_.stats = {"n_ood_in_id_total": int(sum(k in idset for k in ood_keys)),
                 "n_ood_rows": len(good)}
    return pd_


def overlap_stats(pd_: PairData, data_dir: Path, full: bool) -> dict:
    """Duplicate counts for the markdown (``full`` canonicalises the whole OOD set)."""
    ids = pd_.id_keys
    st = {
        "n_id_rows": pd_.n_id_rows, "n_id_invalid": pd_.n_id_invalid,
        "n_id_unique": len(set(ids)), "n_id_repeat_rows": len(ids) - len(set(ids)),
        "n_test": _n_test(len(ids)),
    }
    # OOD entries skipped inside the dedup window = last kept position + 1 − kept count
    if len(pd_.ood_dedup):
        st["n_ood_skipped_in_window"] = int(pd_.ood_dedup[-1] + 1 - len(pd_.ood_dedup))
    st.update(pd_.stats)
    if full and pd_.pair.kind == "mol":
        canon = canonical_smiles(pd_.ood_items)
        idset = set(ids)
        st["n_ood_rows"] = len(canon)
        st["n_ood_in_id_total"] = int(sum(c in idset for c in canon if c is not None))
        st["n_ood_unique_in_id"] = len({c for c in canon if c is not None and c in idset})
    return st


# ------------------------------------------------------------------------------------- records
def _key(r: dict) -> tuple:
    return (r["pair"], r["method"], r["protocol"], int(r["seed"]), r.get("epochs"))


def load_results(path: Path) -> dict:
    if path.exists():
        data = json.loads(path.read_text())
        if isinstance(data, list):  # tolerate a bare record list
            data = {"records": data}
    else:
        data = {}
    data.setdefault("records", [])
    data.setdefault("overlap", {})
    data.setdefault("invocations", [])
    return data


def merge_results(data: dict, other: dict) -> int:
    """Fold ``other``'s records, overlap stats and invocations into ``data`` (in place).

    Records are identified by ``_key``; one already in ``data`` is kept. Returns how many
    records were added.
    """
    have = {_key(r) for r in data["records"]}
    added = [r for r in other.get("records", []) if _key(r) not in have]
    data["records"].extend(added)
    for name, stats in other.get("overlap", {}).items():
        data["overlap"].setdefault(name, stats)
    data["invocations"].extend(i for i in other.get("invocations", [])
                               if i not in data["invocations"])
    return len(added)


def save_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, path)


def append_record(data: dict, invocation: dict, rec: dict, started: float, path: Path) -> None:
    """Add one result record, count it in ``invocation`` (listed in ``data`` from its first
    record on, with its wall time so far) and save ``data`` to ``path`` (resumable runs)."""
    data["records"].append(rec)
    invocation["runs"] += 1
    invocation["wall_seconds"] = round(time.time() - started, 1)
    if invocation["runs"] == 1:
        data["invocations"].append(invocation)
    save_json(path, data)


def machine_info() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu_model": cpu, "logical_cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "python": platform.python_version(), "platform": platform.platform()}


def evaluate_one(pd_: PairData, method: Method, protocol: str, seed: int, epochs: int | None,
                 args) -> dict:
    split = (leaky_split if protocol == "leaky" else paper_split)(len(pd_.id_keys), seed)
    fit, id_test = split.fit, split.id_test
    if protocol == "dedup":
        id_test = dedup_id_test(pd_.id_keys, fit, id_test)
        ood_idx = pd_.ood_dedup[: len(id_test)]
    else:
        ood_idx = pd_.ood_paper[: len(id_test)]
    if len(ood_idx) < len(id_test) and DEV:  # a small OOD set: the first |OOD| ID-test entries
        id_test = id_test[: len(ood_idx)]
    if len(ood_idx) < len(id_test):
        raise RuntimeError(f"{pd_.pair.name}: only {len(ood_idx)} OOD entries for "
                           f"{len(id_test)} ID-test entries")
    train = pd_.take("id", fit)
    test = pd_.join(pd_.take("id", id_test), pd_.take("ood", ood_idx))
    y = np.r_[np.zeros(len(id_test)), np.ones(len(ood_idx))].astype(int)
    scores, t_train, t_score = method.run(train, test, pd_.pair, seed, epochs, args)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != y.shape:
        raise RuntimeError(f"{method.name} returned {scores.shape} scores for {y.shape} inputs")
    unscored = ~np.isfinite(scores)  # e.g. standardisation failed: ranked most OOD, counted
    if unscored.any():
        scores = scores.copy()
        scores[unscored] = (scores[~unscored].max() if (~unscored).any() else 0.0) + 1.0
    return {
        "pair": pd_.pair.name, "method": method.name, "protocol": protocol, "seed": seed,
        "auroc": 100 * auroc(y, scores), "aupr": 100 * aupr(y, scores),
        "fpr95": 100 * fpr95(y, scores),
        "train_seconds": round(t_train, 3), "score_seconds": round(t_score, 3),
        "n_train": int(len(fit)), "n_id_test": int(len(id_test)), "n_ood_test": int(len(ood_idx)),
        "n_unscored": int(unscored.sum()),
        "epochs": epochs, "epochs_setting": args.epochs_setting if method.trained else None,
        "alpha": pd_.pair.alpha if method.trained else None,
    }


# ------------------------------------------------------------------------------------ markdown
def _cell_key(r: dict) -> str:
    setting = r.get("epochs_setting")
    return r["method"] if setting in (None, "sego.sh") else f"{r['method']} [{setting}]"


def _num(x: float) -> str:
    return "–" if np.isnan(x) else f"{x:.2f}"


def _fmt(vals: list[float], target: int) -> str:
    if not vals:
        return "–"
    a = np.asarray(vals)
    s = f"{a.mean():.2f} ± {a.std():.2f}"
    return s + (f" ({len(a)}/{target})*" if len(a) < target else "")


def render_markdown(data: dict, source: str = "benchmarks/results/ood_pairs.json") -> str:
    """The results table of ``data`` (the contents of the JSON file ``source``) as markdown."""
    recs = data["records"]
    cols = sorted({_cell_key(r) for r in recs})
    target = max([5] + [len({r["seed"] for r in recs if (_cell_key(r), r["pair"], r["protocol"]) == k})
                        for k in {(_cell_key(r), r["pair"], r["protocol"]) for r in recs}])
    out = ["# SEGO OOD-detection benchmark, leakage-free (10 ID/OOD pairs"
           + (", DEVELOPMENT: the paper's pairs reversed)" if DEV else ")"), ""]
    if DEV:
        out += ["Development pairs: the hybrid detector's components, fusion rule and "
                "parameters were chosen on these (and on ID-only criteria), never on the "
                "evaluation pairs. Where the OOD set is smaller than the ID test (MUV→ESOL, "
                "ToxCast→FreeSolv), the ID test is its first |OOD| entries. No published "
                "numbers exist for these directions.", ""]
    out += [
        f"Generated by `benchmarks/ood_pairs.py` from `{source}`; do not edit.",
        "",
        "**Protocol.** One split per seed (seeds 1..N; `molood.evaluation.splits.paper_split`): ⌊0.9·n⌋ of "
        "the ID set is ID-train, the rest ID test; the two never overlap (the paper's code drew the "
        "split twice, so ≈90% of its ID test was trained on). Every method gets the whole 90% "
        "ID-train; `SEGODetector` holds out its own `val_fraction=0.1` of it (seeded) for "
        "calibration, i.e. the protocol's 10% calibration part lives inside `fit`. "
        "OOD test = the first |ID test| OOD entries in file order. Epochs and α per pair from "
        "SEGO's `sego.sh` (spec §7) unless a column says otherwise; batch 128, lr 1e-4, tree height 5.",
        "",
        "- `paper`: no duplicate removal (the paper's test sets, minus the leakage).",
        "- `dedup`: ID-test entries also present in ID-train (or repeated in the ID test) are "
        "dropped; then OOD entries present anywhere in the ID set (or repeated) are dropped and the "
        "OOD test is the first |deduplicated ID test| remaining, in file order. Identity: RDKit "
        "canonical isomeric SMILES (fragments/salts kept) for molecules; 1-WL hash of the "
        "unlabelled graph for TU pairs (what the constant-feature basic and topological views, "
        "the only inputs of the score, see; stricter than molecule identity: same-skeleton "
        "molecules with different atoms count as duplicates, e.g. BZR's ID test shrinks from 41 "
        "to about 22). Exact-key dedup does not catch salt forms or stereo variants of the same "
        "parent molecule (Tox21/SIDER: about half of the deduplicated SIDER test molecules still "
        "match a Tox21 molecule after salt stripping and stereo removal).",
        "- Molecules RDKit cannot parse are removed from the ID set before splitting "
        "(Tox21: 8 Al compounds, so n_ID = 7,823 and |ID test| = 783 instead of 784).",
        "- Cells: mean ± std over seeds, **population std** (ddof = 0, as the paper). "
        f"`(k/{target})*` marks a cell with fewer than {target} seeds. AUROC/AUPR/FPR95 in %, OOD = "
        "positive class; AUPR = average precision; FPR95 = FPR on ID at 95% TPR on OOD.",
        "- A test molecule a method cannot score (its standardisation fails; so far 2 test "
        "molecules of one ToxCast → FreeSolv development split) is ranked most OOD, as a "
        "screen shows it as a row to look at; records count them (`n_unscored`).",
        "- hybrid: `HybridDetector` with its product defaults, one recipe for every pair "
        "(molecules: 5-NN Tanimoto + descriptors, Fisher-fused; graphs: 1-NN in SEGO's "
        "embedding, SEGO trained ≤ 2000 steps); `hybrid_<x>`: ablations fusing only "
        "component(s) <x>.",
        "- knn_tanimoto: 1 − max Tanimoto to the ID-train set (Morgan r=2, 2048 bits); molecular "
        "pairs only.",
        "",
    ]
    for metric, title in [("auroc", "AUROC (%) ↑"), ("aupr", "AUPR (%) ↑"), ("fpr95", "FPR95 (%) ↓")]:
        for protocol in PROTOCOLS:
            present = [c for c in cols if any(_cell_key(r) == c and r["protocol"] == protocol for r in recs)]
            if not present:
                continue
            paper_cols = metric == "auroc"
            out.append(f"## {title}, protocol `{protocol}`")
            out.append("")
            head = ["pair"] + (["paper SEGO", "paper GOOD-D"] if paper_cols else []) + present
            out.append("| " + " | ".join(head) + " |")
            out.append("|" + "---|" * len(head))
            means: dict[str, dict[str, float]] = {c: {} for c in present}
            for name, pair in PAIRS.items():
                row = [name] + ([_num(pair.paper_sego), _num(pair.paper_goodd)] if paper_cols else [])
                for c in present:
                    vals = [r[metric] for r in recs if r["pair"] == name and r["protocol"] == protocol
                            and _cell_key(r) == c]
                    row.append(_fmt(vals, target))
                    if vals:
                        means[c][name] = float(np.mean(vals))
                out.append("| " + " | ".join(row) + " |")
            for label, names in [("mean, 5 molecular", MOLECULAR), ("mean, all 10", list(PAIRS))]:
                row = [f"**{label}**"]
                if paper_cols:
                    row += [_num(np.mean([PAIRS[n].paper_sego for n in names])),
                            _num(np.mean([PAIRS[n].paper_goodd for n in names]))]
                for c in present:
                    have = [means[c][n] for n in names if n in means[c]]
                    if not have:
                        row.append("–")
                    elif len(have) < len(names):
                        row.append(f"({np.mean(have):.2f} over {len(have)}/{len(names)} pairs)")
                    else:
                        row.append(f"{np.mean(have):.2f}")
                out.append("| " + " | ".join(row) + " |")
            out.append("")
    # test-set sizes and timing
    out += ["## Test-set sizes and time per run", "",
            "| pair | protocol | method | n_train | n_ID test | n_OOD test | train s | score s |",
            "|---|---|---|---|---|---|---|---|"]
    for name in PAIRS:
        for protocol in PROTOCOLS:
            for c in cols:
                rs = [r for r in recs if r["pair"] == name and r["protocol"] == protocol and _cell_key(r) == c]
                if not rs:
                    continue
                def rng(k):
                    v = sorted({r[k] for r in rs})
                    return str(v[0]) if len(v) == 1 else f"{v[0]}–{v[-1]}"
                out.append(f"| {name} | {protocol} | {c} | {rng('n_train')} | {rng('n_id_test')} | "
                           f"{rng('n_ood_test')} | {np.mean([r['train_seconds'] for r in rs]):.1f} | "
                           f"{np.mean([r['score_seconds'] for r in rs]):.1f} |")
    out.append("")
    if data.get("overlap"):
        out += ["## Duplicates (canonical SMILES; 1-WL hash for TU)", "",
                "| pair | ID rows | ID unparseable | ID repeated rows | ID-test size (paper) | OOD rows | "
                "OOD rows in ID (whole OOD set) | OOD skipped before the dedup window filled |",
                "|---|---|---|---|---|---|---|---|"]
        for name in PAIRS:
            st = data["overlap"].get(name)
            if not st:
                continue
            out.append(f"| {name} | {st['n_id_rows']} | {st['n_id_invalid']} | {st['n_id_repeat_rows']} | "
                       f"{st['n_test']} | {st.get('n_ood_rows', '–')} | {st.get('n_ood_in_id_total', '–')} | "
                       f"{st.get('n_ood_skipped_in_window', '–')} |")
        out.append("")
    # incomplete cells
    missing = []
    for c in cols:
        kinds = METHODS[c.split(" ")[0]].kinds if c.split(" ")[0] in METHODS else {"mol", "tu"}
        for name, pair in PAIRS.items():
            if pair.kind not in kinds:
                continue
            for protocol in PROTOCOLS:
                k = len({r["seed"] for r in recs if r["pair"] == name and r["protocol"] == protocol
                         and _cell_key(r) == c})
                if k < target:
                    missing.append(f"{c} / {name} / {protocol}: {k}/{target} seeds")
    out += ["## Incomplete cells", ""]
    out += [f"- {m}" for m in missing] or ["- none"]
    out.append("")
    inv = data.get("invocations", [])
    if inv:
        m = inv[-1]["machine"]
        total = sum(i.get("wall_seconds", 0.0) for i in inv)
        out += ["## Machine and wall time", "",
                f"- CPU: {m['cpu_model']}, {m['usable_cores']} usable of {m['logical_cores']} logical "
                f"cores (shared with other work while these ran); Python {m['python']}; {m['platform']}.",
                f"- {len(inv)} invocation(s), {total / 60:.1f} min wall in total "
                f"(sum of train + score seconds over records: "
                f"{sum(r['train_seconds'] + r['score_seconds'] for r in recs) / 60:.1f} min).",
                "- knn_tanimoto has no training step (fingerprinting the ID-train set is counted "
                "under score s).", ""]
    return "\n".join(out)


# ----------------------------------------------------------------------------------------- CLI
COMMITTED_JSON = RESULTS / "ood_pairs.json"
COMMITTED_MD = RESULTS / "ood_pairs.md"
DEV_JSON = RESULTS / "ood_pairs_dev.json"


def markdown_path(json_path: Path, md: Path | None) -> Path:
    """Where the table of ``json_path`` goes: ``md`` if given, else next to the JSON (same
    name, ``.md``). The committed table is rendered from the committed JSON only: ValueError
    if ``md`` is it and ``json_path`` is another file (a partial run would clobber it)."""
    target = md if md is not None else json_path.with_suffix(".md")
    if (target.resolve() == COMMITTED_MD.resolve()
            and json_path.resolve() != COMMITTED_JSON.resolve()):
        raise ValueError(f"{target} is the committed results table; it is rendered from "
                         f"{COMMITTED_JSON} only, not from {json_path} (leave out --md: the "
                         f"table of {json_path} goes next to it)")
    return target


def write_markdown(md: Path, data: dict, json_path: Path) -> None:
    """Render ``data`` (read from ``json_path``) to ``md``, atomically."""
    try:
        source = str(json_path.resolve().relative_to(REPO))
    except ValueError:
        source = str(json_path)
    md.parent.mkdir(parents=True, exist_ok=True)
    tmp = md.with_name(md.name + f".tmp{os.getpid()}")
    tmp.write_text(render_markdown(data, source))
    os.replace(tmp, md)


def default_data_dir() -> Path:
    env = os.environ.get("MOLOOD_SHARED_DATA")
    return Path(env) if env else (REPO / ".." / "shared" / "data").resolve()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder with moleculenet/ and tu/ (default: $MOLOOD_SHARED_DATA or <repo>/../shared/data)")
    p.add_argument("--dev", action="store_true",
                   help="run the development pairs (the paper's pairs reversed) into "
                        "results/ood_pairs_dev.json instead of the evaluation pairs")
    p.add_argument("--pairs", default=None, help="comma-separated pair names (default: all)")
    p.add_argument("--seeds", default="5",
                   help="N runs seeds 1..N (default 5); a list such as 4,5 or a range 3-5 runs "
                        "just those (to spread one grid over parallel processes)")
    p.add_argument("--methods", default="molood,molood_faithful,knn_tanimoto")
    p.add_argument("--protocols", default="paper,dedup")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--epochs", type=int, default=None, help="same epoch count for every pair (smoke runs)")
    g.add_argument("--epochs-scale", type=float, default=None, help="multiply sego.sh epochs by F")
    p.add_argument("--n-jobs", type=int, default=1, help="passed to SEGODetector (tree building)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads inside SEGODetector (num_threads; default: torch's)")
    p.add_argument("--json", type=Path, default=None,
                   help="results file, read and extended (default: the committed results)")
    p.add_argument("--md", type=Path, default=None,
                   help="markdown table to write (default: next to --json, same name, .md)")
    p.add_argument("--overlap-stats", action="store_true",
                   help="canonicalise whole OOD sets (93k MUV: ~1 min) for the duplicates table")
    p.add_argument("--render-only", action="store_true",
                   help="only render the markdown of --json (next to it, or --md)")
    p.add_argument("--merge", type=Path, nargs="*", default=[], metavar="JSON",
                   help="fold the records of other result files (e.g. from parallel runs with "
                        "their own --json) into --json first; a record already present wins")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.dev:
        use_dev_pairs()
    if args.json is None:
        args.json = DEV_JSON if args.dev else COMMITTED_JSON
    if args.pairs is None:
        args.pairs = ",".join(PAIRS)
    args.data_dir = args.data_dir or default_data_dir()
    try:
        args.md = markdown_path(args.json, args.md)
    except ValueError as exc:
        p.error(str(exc))
    args.pairs = [s.strip() for s in args.pairs.split(",") if s.strip()]
    args.methods = [s.strip() for s in args.methods.split(",") if s.strip()]
    args.protocols = [s.strip() for s in args.protocols.split(",") if s.strip()]
    try:
        args.seed_list = parse_seeds(args.seeds)
    except ValueError:
        p.error(f"--seeds {args.seeds!r}: give N, a list a,b,c or a range a-b of positive integers")
    for kind, vals, known in [("pair", args.pairs, PAIRS), ("method", args.methods, METHODS),
                              ("protocol", args.protocols, PROTOCOLS)]:
        bad = [v for v in vals if v not in known]
        if bad:
            p.error(f"unknown {kind}(s) {bad}; choose from {list(known)}")
    if args.epochs is not None:
        args.epochs_setting = f"={args.epochs}"
    elif args.epochs_scale is not None and args.epochs_scale != 1.0:
        args.epochs_setting = f"x{args.epochs_scale:g}"
    else:
        args.epochs_setting = "sego.sh"
    return args


def parse_seeds(text: str) -> list[int]:
    """``"5"`` → seeds 1..5; ``"4,5"`` → [4, 5]; ``"3-5"`` → [3, 4, 5]."""
    text = text.strip()
    if text.isdigit():
        seeds = list(range(1, int(text) + 1))
    else:
        seeds = []
        for part in text.split(","):
            lo, sep, hi = part.strip().partition("-")
            seeds.extend(range(int(lo), int(hi) + 1) if sep else [int(lo)])
    if not seeds or min(seeds) < 1:
        raise ValueError(text)
    return sorted(set(seeds))


def epochs_for(pair: Pair, args) -> int:
    if args.epochs is not None:
        return args.epochs
    if args.epochs_scale is not None:
        return max(1, round(pair.epochs * args.epochs_scale))
    return pair.epochs


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    data = load_results(args.json)
    if args.merge:
        for other in args.merge:
            n = merge_results(data, load_results(other))
            print(f"merged {n} records from {other}", flush=True)
        save_json(args.json, data)
    if args.render_only:
        write_markdown(args.md, data, args.json)
        print(f"wrote {args.md}", flush=True)
        return 0
    needs_detector = [m for m in args.methods if m.startswith(("molood", "hybrid"))]
    if needs_detector:
        try:
            import molood.detectors.sego.detector  # noqa: F401
        except ImportError as exc:
            print(f"error: methods {needs_detector} need molood.detectors.sego.detector, which does not import "
                  f"({exc}); run with --methods knn_tanimoto", file=sys.stderr)
            return 2
    started = time.time()
    done = {_key(r) for r in data["records"]}
    plan = []
    for name in args.pairs:
        pair = PAIRS[name]
        methods = [METHODS[m] for m in args.methods if pair.kind in METHODS[m].kinds]
        for mname in args.methods:
            if pair.kind not in METHODS[mname].kinds:
                print(f"skip {mname} on {name}: not applicable to {pair.kind} pairs", flush=True)
        for seed in args.seed_list:  # one fit per seed serves all variants/protocols
            for method in methods:
                ep = epochs_for(pair, args) if method.trained else None
                for protocol in args.protocols:
                    plan.append((pair, method, protocol, seed, ep))
    todo = [t for t in plan if (t[0].name, t[1].name, t[2], t[3], t[4]) not in done]
    print(f"{len(plan)} runs planned, {len(plan) - len(todo)} already in {args.json}", flush=True)
    invocation = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "argv": list(argv or sys.argv[1:]),
                  "machine": machine_info(), "runs": 0}
    loaded: dict[str, PairData] = {}
    for i, (pair, method, protocol, seed, ep) in enumerate(todo, 1):
        if pair.name not in loaded:
            t0 = time.perf_counter()
            loaded = {pair.name: load_pair(pair, args.data_dir)}  # keep one pair in memory
            if pair.name not in data["overlap"] or (args.overlap_stats and
                                                    "n_ood_in_id_total" not in data["overlap"][pair.name]):
                data["overlap"][pair.name] = overlap_stats(loaded[pair.name], args.data_dir,
                                                           args.overlap_stats)
            print(f"loaded {pair.name} in {time.perf_counter() - t0:.1f}s", flush=True)
        rec = evaluate_one(loaded[pair.name], method, protocol, seed, ep, args)
        append_record(data, invocation, rec, started, args.json)
        print(f"[{i}/{len(todo)}] {pair.name} {method.name} {protocol} seed={seed}"
              f"{'' if ep is None else f' epochs={ep}'}: AUROC {rec['auroc']:.2f} "
              f"AUPR {rec['aupr']:.2f} FPR95 {rec['fpr95']:.2f} "
              f"(n={rec['n_id_test']}+{rec['n_ood_test']}, {rec['train_seconds'] + rec['score_seconds']:.1f}s)",
              flush=True)
    if args.overlap_stats:  # stats for pairs whose runs were all done already
        for name in args.pairs:
            if "n_ood_in_id_total" not in data["overlap"].get(name, {}):
                data["overlap"][name] = overlap_stats(load_pair(PAIRS[name], args.data_dir),
                                                      args.data_dir, True)
    save_json(args.json, data)
    write_markdown(args.md, data, args.json)
    print(f"wrote {args.json} and {args.md} ({time.time() - started:.0f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
