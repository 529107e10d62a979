#!/usr/bin/env python
"""`molood audit` on a planted case: ~2% foreign molecules hidden in a MoleculeNet set.

The foreign molecules are half marine natural products (CMNPD, ``far_ood/``) and half metal or
carbon-free compounds taken from ToxCast (``moleculenet/toxcast.csv.gz``), drawn with the seed and
never already in the host set (canonical SMILES). They are inserted at random rows. The audit
(K-fold cross-fitting, :mod:`molood.audit`) never knows which rows are planted; we report the
AUROC of finding them and precision@k (k = number planted), next to the leave-one-out
Tanimoto nearest-neighbour baseline (score = 1 − similarity to the most similar *other*
member, which is the audit's ``molood_nearest_similarity`` column) and to the audit's chemistry
rules alone (a row with any rule reason counts as found). Results go to
``benchmarks/results/audit_planted.{json,md}``; the markdown is appended to anomaly.md.

    python benchmarks/audit_planted.py --host freesolv.csv --seeds 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, REPO / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from ood_pairs import default_data_dir, machine_info, save_json  # noqa: E402

from molood.audit import METALS, audit_smiles  # noqa: E402
from molood.evaluation import auroc, canonical_smiles  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"


def _inorganic(smi: str) -> bool:
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smi)
    if mol is None:
        return False
    sym = {a.GetSymbol() for a in mol.GetAtoms()}
    return bool(sym & METALS) or "C" not in sym


def planted_set(data_dir: Path, host: str, frac: float, seed: int
                ) -> tuple[list[str], np.ndarray]:
    """Host SMILES with ``round(frac·n)`` foreign ones inserted at random rows; 1 = planted."""
    rng = np.random.default_rng(seed)
    host_smi = pd.read_csv(data_dir / "moleculenet" / host)["smiles"].astype(str).tolist()
    known = set(canonical_smiles(host_smi))
    n_plant = max(2, round(frac * len(host_smi)))
    nps = pd.read_csv(data_dir / "far_ood" / "cmnpd_marine_natural_products.csv")["SMILES"]
    tox = pd.read_csv(data_dir / "moleculenet" / "toxcast.csv.gz", usecols=["smiles"])["smiles"]
    inorg = [s for s in tox.astype(str) if _inorganic(s)]
    picks: list[str] = []
    for pool, want in ((nps.astype(str).tolist(), n_plant - n_plant // 2), (inorg, n_plant // 2)):
        got = 0
        for i in rng.permutation(len(pool)):
            c = canonical_smiles([pool[i]])[0]
            if c is None or c in known:
                continue
            known.add(c)
            picks.append(pool[i])
            got += 1
            if got == want:
                break
    n = len(host_smi) + len(picks)
    pos = np.sort(rng.choice(n, size=len(picks), replace=False))
    y = np.zeros(n, dtype=np.int64)
    y[pos] = 1
    out, it_h, it_p = [], iter(host_smi), iter(picks)
    for i in range(n):
        out.append(next(it_p) if y[i] else next(it_h))
    return out, y


def rule_flags(smiles: Sequence[str]) -> np.ndarray:
    """1.0 where a chemistry rule of :func:`molood.audit.chemistry_reasons` fires (whatever
    the fold models say), else 0.0."""
    from rdkit import Chem

    from molood.audit import chemistry_reasons

    out = np.zeros(len(smiles))
    for i, s in enumerate(smiles):
        mol = Chem.MolFromSmiles(s) if isinstance(s, str) else None
        out[i] = float(mol is not None and bool(chemistry_reasons(mol)))
    return out


def precision_at_k(y: np.ndarray, scores: np.ndarray, k: int) -> float:
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")
    return float(y[order[:k]].mean())


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--host", default="freesolv.csv")
    p.add_argument("--frac", type=float, default=0.02)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=100, help="SEGO epochs per fold model")
    p.add_argument("--detector", choices=("hybrid", "sego"), default="hybrid")
    p.add_argument("--json", type=Path, default=RESULTS / "audit_planted.json")
    p.add_argument("--render-only", action="store_true")
    args = p.parse_args(argv)
    data_dir = args.data_dir or default_data_dir()
    data = json.loads(args.json.read_text()) if args.json.exists() else {"records": []}
    for r in data["records"]:  # the rules column is the chemistry rules alone (older records
        if "rules_only" not in r:  # also counted SEGO's "atypical structure" as a rule)
            smiles, y = planted_set(data_dir, r["host"], args.frac, r["seed"])
            r["rules_auroc"], r["rules_only"] = 100 * auroc(y, rule_flags(smiles)), True
    for seed in range(1, 0 if args.render_only else args.seeds + 1):
        epochs = args.epochs if args.detector == "sego" else None
        key = (args.host, seed, args.folds, args.detector, epochs)
        if any(_key(r) == key for r in data["records"]):
            continue
        smiles, y = planted_set(data_dir, args.host, args.frac, seed)
        t0 = time.perf_counter()
        res = audit_smiles(smiles, folds=args.folds, detector=args.detector,
                           epochs=args.epochs, seed=seed)
        secs = time.perf_counter() - t0
        k = int(y.sum())
        knn = 1.0 - res["molood_nearest_similarity"].to_numpy()
        rules = rule_flags(smiles)
        # a member the fold models cannot score (its standardisation fails) ranks first: an
        # audit shows it as a row to look at
        score = res["molood_score"].to_numpy()
        unscored = np.isnan(score).sum()
        score = np.where(np.isnan(score), np.nanmax(score) + 1.0, score)
        rec = {"host": args.host, "seed": seed, "folds": args.folds,
               "detector": args.detector, "epochs": epochs,
               "n": len(y), "n_planted": k, "audit_seconds": round(secs, 1),
               "molood_auroc": 100 * auroc(y, score), "molood_unscored": int(unscored),
               "molood_p_at_k": precision_at_k(y, score, k),
               "knn_auroc": 100 * auroc(y, knn), "knn_p_at_k": precision_at_k(y, knn, k),
               "rules_auroc": 100 * auroc(y, rules), "rules_only": True,
               "molood_flagged": int(res["molood_is_ood"].fillna(False).sum()),
               "molood_flagged_planted": int((res["molood_is_ood"].fillna(False).to_numpy() & (y == 1)).sum()),
               "machine": machine_info()["cpu_model"]}
        data["records"].append(rec)
        save_json(args.json, data)
        print(json.dumps(rec), flush=True)
    args.json.with_suffix(".md").write_text(render(data))
    return 0


def _key(r: dict) -> tuple:
    """What identifies a record (records from before the hybrid detector were SEGO's)."""
    det = r.get("detector", "sego")
    return r["host"], r["seed"], r["folds"], det, r["epochs"] if det == "sego" else None


def render(data: dict) -> str:
    out = ["## Planted case: `molood audit` finds foreign molecules in a MoleculeNet set", "",
           "Generated by `benchmarks/audit_planted.py`. ~2% foreign molecules (half CMNPD marine "
           "natural products, half metal-containing or carbon-free ToxCast compounds, none "
           "already in the host) inserted at random rows; 5-fold cross-fitted audit, fpr 0.05. "
           "precision@k with k = number planted; knn = leave-one-out Tanimoto 1-NN "
           "(1 − `molood_nearest_similarity`); rules = any chemistry rule of `molood_reason` fires "
           "(mixture, metal, no carbon, unusual element, tiny, charged; binary, the same for "
           "every fold model).", "",
           "| host | seed | n (planted) | fold models | molood AUROC | molood P@k | knn AUROC | "
           "knn P@k | rules AUROC | flagged (planted among them) | audit time s |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in data["records"]:
        out.append(f"| {r['host']} | {r['seed']} | {r['n']} ({r['n_planted']}) | {_models(r)} | "
                   f"{r['molood_auroc']:.1f} | {r['molood_p_at_k']:.2f} | {r['knn_auroc']:.1f} | "
                   f"{r['knn_p_at_k']:.2f} | {r['rules_auroc']:.1f} | {r['molood_flagged']} "
                   f"({r['molood_flagged_planted']}) | {r['audit_seconds']:.0f} |")
    for host, models in dict.fromkeys((r["host"], _models(r)) for r in data["records"]):
        rs = [r for r in data["records"] if r["host"] == host and _models(r) == models]
        if len(rs) > 1:
            m = {k: np.mean([r[k] for r in rs]) for k in ("molood_auroc", "molood_p_at_k",
                                                           "knn_auroc", "knn_p_at_k", "rules_auroc")}
            out.append(f"| **{host} mean of {len(rs)}** | | | {models} | {m['molood_auroc']:.1f} | "
                       f"{m['molood_p_at_k']:.2f} | {m['knn_auroc']:.1f} | {m['knn_p_at_k']:.2f} | "
                       f"{m['rules_auroc']:.1f} | | |")
    out += ["", "Reading: with hybrid fold models (the default since they exist) the audit "
            "score ranks the foreign molecules about as well as the leave-one-out Tanimoto 1-NN "
            "column on FreeSolv (mean AUROC 93.7 vs 95.8, precision@k 0.46 vs 0.44) and better "
            "on BBBP (88.5 vs 87.1, 0.37 vs 0.32), in seconds; SEGO fold models rank them above "
            "chance but well below (77.4 and 71.2), in minutes: a natural product or a metal "
            "salt is first of all *far from every other member*, which nearest neighbours "
            "measure directly, while SEGO's score measures how well its two graph views agree. "
            "One BBBP member cannot be standardised; it is ranked first, as the audit lists it "
            "as a row to look at (`molood_unscored`). Audit time is the K fold fits (2 shared "
            "cores; SEGO: 1 torch thread, 100 epochs)."]
    return "\n".join(out) + "\n"


def _models(r: dict) -> str:
    det = r.get("detector", "sego")
    return f"SEGO, {r['epochs']} epochs" if det == "sego" else det


if __name__ == "__main__":
    sys.exit(main())
