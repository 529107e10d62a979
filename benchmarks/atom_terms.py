"""How SEGO's per-atom contributions behave on the bundled model (numbers quoted in README).

Training molecules: how many atoms have a positive contribution above the noise level; approved
drugs (single fragment) with an element FreeSolv lacks: whether that atom has the largest
contribution, its rank, and whether it is above noise.

    python benchmarks/atom_terms.py
"""
import numpy as np, pandas as pd
from rdkit import Chem
import molood
from molood.explain.core import atom_noise
from molood.explain.reference import resolve_reference
det = molood.load_model(); ref = resolve_reference(det); d99 = atom_noise(det, ref)
train = [ref.smiles[i] for i in range(len(ref)) if not ref.calibration[i]]
worst, n_atoms, above = 0.0, 0, 0
for t in det.score_terms(train):
    if t.atoms is None: continue
    r = t.atoms * t.atom_scale / d99
    worst = max(worst, r.max()); n_atoms += len(r); above += int((r > 1).sum())
print(f"noise d99 {d99:.3f}; training molecules {len(train)}, atoms {n_atoms}, above noise {above}, largest {worst:.2f}x noise")
fs_el = set(ref.elements.tolist())
drugs = pd.read_parquet("data/chembl_approved_drugs.parquet")["smiles"].tolist()
ranks, abv, n = [], 0, 0
for s in drugs:
    m = Chem.MolFromSmiles(s)
    if m is None or len(Chem.GetMolFrags(m)) != 1: continue
    new = [a.GetIdx() for a in m.GetAtoms() if a.GetAtomicNum() not in fs_el]
    if not new: continue
    t = det.score_terms([s])[0]
    if t.atoms is None or t.mol is None or t.mol.GetNumAtoms() != m.GetNumAtoms(): continue
    mm = t.mol
    idx = [a.GetIdx() for a in mm.GetAtoms() if a.GetAtomicNum() not in fs_el]
    c = t.atoms; n += 1
    top = max(c[i] for i in idx)
    ranks.append((c > top).sum() / len(c))
    abv += int(top * t.atom_scale > d99)
    if int(np.argmax(c)) in idx: pass
largest = sum(1 for r in ranks if r == 0)
print(f"drugs with an unseen element, single fragment: {n}; that atom largest in {largest}; median top {100*np.median(ranks):.0f}% ; above noise in {abv}")
