"""Score terms and atom contributions: the sum identities, the same score as scoring, edge
cases, and the sanity checks of the issue on the bundled model (unseen elements, training
molecules)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdkit import Chem

from molood.detectors.sego.losses import local_infonce_eval, local_infonce_nodes
from molood.explain.core import atom_noise
from molood.explain.reference import resolve_reference
from molood.persist import load_model, sego_model_path

QUERY = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "O=[Se](O)O", "C", "[Na+].[Cl-]",
         "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC", "not a smiles", "",
         "c1ccccc1[Sn](C)(C)C"]


def test_node_terms_average_to_the_local_loss():
    g = torch.Generator().manual_seed(0)
    nn_ = torch.tensor([1, 2, 5, 9, 17, 3])
    x = torch.randn(int(nn_.sum()), 16, generator=g)
    y = torch.randn(int(nn_.sum()), 16, generator=g)
    nodes = local_infonce_nodes(x, y, nn_).numpy()
    per_graph = np.add.reduceat(nodes, np.cumsum(nn_.numpy()) - nn_.numpy()) / nn_.numpy()
    per_graph[nn_.numpy() <= 1] = 0.0
    np.testing.assert_allclose(per_graph, local_infonce_eval(x, y, nn_).numpy(), rtol=0,
                               atol=1e-12)
    assert nodes[0] == 0.0


def test_terms_add_up_and_score_is_the_screen_score(tiny_model):
    terms = tiny_model.score_terms(QUERY)
    scores = tiny_model.score(QUERY)
    assert len(terms) == len(QUERY)
    for q, t, s in zip(QUERY, terms, scores):
        if not np.isfinite(s):
            assert t.status != "ok" and np.isnan(t.score) and t.atoms is None
            continue
        assert t.status == "ok" and t.score == s  # bit for bit: the same scoring path
        assert abs(sum(t.terms.values()) - s) < 1e-9
        mol = t.mol if t.mol is not None else Chem.MolFromSmiles(q)  # what was scored
        assert t.atom_term == "local" and t.atoms.shape == (mol.GetNumAtoms(),)
        assert abs(t.atoms.sum() - t.terms["local"]) < 1e-9  # Σ c_i = local z-term
        assert t.atom_scale == mol.GetNumAtoms()
    assert terms[4].terms["local"] == 0.0 and terms[4].atoms.tolist() == [0.0]  # one atom
    assert terms[7].status.startswith("invalid_smiles") and terms[8].status == "empty"


def test_terms_follow_the_largest_fragment(freesolv_smiles):
    from molood.detectors.sego.detector import SEGODetector

    # without standardisation (models from before it): the input's atoms, dropped ones at 0
    det = SEGODetector(epochs=1, hidden_dim=8, batch_size=16, val_fraction=0.2,
                       standardize=None, largest_fragment=True,
                       verbose=False).fit(freesolv_smiles[:30])
    t = det.score_terms(["[Na+].CC(=O)[O-]", "CCO"])
    assert t[0].score == det.score(["[Na+].CC(=O)[O-]"])[0]
    assert t[0].atoms.shape == (5,) and t[0].atoms[0] == 0.0 and t[0].atom_scale == 4
    assert abs(t[0].atoms.sum() - t[0].terms["local"]) < 1e-9 and t[0].mol is None
    # with it: the standardised molecule that was scored (acetic acid), in canonical order
    det = SEGODetector(epochs=1, hidden_dim=8, batch_size=16, val_fraction=0.2,
                       verbose=False).fit(freesolv_smiles[:30])
    t = det.score_terms(["[Na+].CC(=O)[O-]"])[0]
    assert t.score == det.score(["[Na+].CC(=O)[O-]"])[0]
    assert Chem.MolToSmiles(t.mol) == "CC(=O)O" and t.atoms.shape == (4,)
    assert abs(t.atoms.sum() - t.terms["local"]) < 1e-9


def test_faithful_mode_has_a_tree_term(freesolv_smiles):
    from molood.detectors.sego.detector import SEGODetector

    det = SEGODetector(epochs=1, hidden_dim=8, batch_size=16, mode="faithful",
                       verbose=False).fit(freesolv_smiles[:40])
    t = det.score_terms(["CCO"])[0]
    assert set(t.terms) == {"global", "local", "tree"}
    assert abs(sum(t.terms.values()) - det.score(["CCO"])[0]) < 1e-9


def test_a_detector_without_terms_gets_the_default(toy_molecule_detector):
    t = toy_molecule_detector.score_terms(["CCO", "not a smiles"])
    assert t[0].terms == {"score": t[0].score} and t[0].atoms is None
    assert t[1].status == "not scored"


# ---------------------------------------------------------------- the sanity checks
@pytest.fixture(scope="module")
def bundled():
    det = load_model(sego_model_path())  # SEGO's atom-level explanations
    ref = resolve_reference(det)
    return det, ref, atom_noise(det, ref)


def test_unseen_element_in_selenious_acid_is_above_noise_and_marked(bundled):
    """SEGO's atom terms put every atom of selenious acid above noise, Se among them, but do
    not single Se out (its O atoms score as high: README, "What the contributions mean"); the
    unseen-element mark does, by construction."""
    det, _, d99 = bundled
    t = det.score_terms(["O=[Se](O)O"])[0]
    assert (t.atoms > d99 / t.atom_scale).all()  # every atom above noise, Se (atom 1) too
    e = det.explain(["O=[Se](O)O"])[0]
    assert e.unseen_elements == {"Se": [1]}


def test_training_molecules_have_no_contribution_above_noise(bundled):
    """Noise = the 99th percentile of |per-atom z| over held-out ID atoms; measured on the
    bundled model: 0 of 5,090 atoms of its 578 training molecules exceed it."""
    det, ref, d99 = bundled
    train = [s for s, c in zip(ref.smiles, ref.calibration) if not c][:150]
    above = total = 0
    for t in det.score_terms(train):
        if t.atom_scale > 1:
            above += int((t.atoms > d99 / t.atom_scale).sum())
            total += t.atoms.size
    assert total > 1000 and above / total < 0.005
