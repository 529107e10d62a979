"""SEGO's training loop (molood.detectors.sego.training): the step budget, checkpoints and
resuming, the time budget, and independence from the thread count."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from molood.detectors.sego import training
from molood.detectors.sego.detector import SEGODetector
from molood.detectors.sego.training import AUTO_MAX_STEPS, budget_epochs, steps_per_epoch

SMALL = dict(epochs=6, batch_size=16, hidden_dim=8, num_layers=2, val_fraction=0.1,
             verbose=False, seed=3)


def test_budget_rule_keeps_small_sets_and_caps_large_ones():
    # up to 8,000 training molecules (batch 128): all 400 epochs, as before the cap
    assert steps_per_epoch(8_000, 128) * 400 <= AUTO_MAX_STEPS
    assert budget_epochs(8_000, 128, 400, "auto") == 400
    assert budget_epochs(578, 128, 400, "auto") == 400  # FreeSolv's SEGO training split
    # a large set stops at the step cap
    spe = steps_per_epoch(1_283_577, 128)
    assert budget_epochs(1_283_577, 128, 400, "auto") == max(1, AUTO_MAX_STEPS // spe)
    assert budget_epochs(1_283_577, 128, 400, "auto") * spe <= AUTO_MAX_STEPS
    assert budget_epochs(10, 128, 400, 3) == 3 and budget_epochs(10, 128, 7, None) == 7
    assert budget_epochs(10_000, 16, 400, 1) == 1  # never below one epoch


def test_default_budget_is_auto():
    assert SEGODetector().max_steps == "auto"
    with pytest.raises(ValueError, match="max_steps"):
        SEGODetector(max_steps="lots")._validate_params()


def test_killed_training_resumes_to_the_uninterrupted_model(freesolv_smiles, tmp_path,
                                                             monkeypatch, assert_same_model):
    data = freesolv_smiles[:60]
    whole = SEGODetector(**SMALL).fit(data)
    ckpt = tmp_path / "m.molood.ckpt"
    real_step, calls = training._step, {"n": 0}

    def dying_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 11:  # in the middle of epoch 3 (4 steps an epoch)
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(training, "_step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        SEGODetector(**SMALL, checkpoint=ckpt, checkpoint_every=0).fit(data)
    assert ckpt.exists()
    monkeypatch.setattr(training, "_step", real_step)
    resumed = SEGODetector(**SMALL, checkpoint=ckpt, resume=True).fit(data)
    assert_same_model(whole, resumed)  # the per-epoch losses included
    assert resumed.epochs_ == whole.epochs_ == 6
    assert not ckpt.exists()  # removed once the model is complete


def test_checkpoint_of_another_run_is_refused(freesolv_smiles, tmp_path, monkeypatch):
    ckpt = tmp_path / "m.ckpt"
    real_step, calls = training._step, {"n": 0}

    def dying_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(training, "_step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        SEGODetector(**SMALL, checkpoint=ckpt, checkpoint_every=0).fit(freesolv_smiles[:60])
    monkeypatch.setattr(training, "_step", real_step)
    with pytest.raises(ValueError, match="another training run"):
        SEGODetector(**{**SMALL, "seed": 4}, checkpoint=ckpt, resume=True).fit(
            freesolv_smiles[:60])
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="checkpoint"):
        SEGODetector(**SMALL, checkpoint=tmp_path / "junk.ckpt", resume=True).fit(
            freesolv_smiles[:60])


def test_time_budget_stops_between_epochs(freesolv_smiles, monkeypatch):
    clock = {"t": 0.0}

    def fake_monotonic():
        clock["t"] += 1.0  # every look at the clock: one more second
        return clock["t"]

    monkeypatch.setattr(training.time, "monotonic", fake_monotonic)
    det = SEGODetector(**{**SMALL, "epochs": 50}, time_budget=12).fit(freesolv_smiles[:60])
    assert 1 <= det.epochs_ < 50 and len(det.history_) == det.epochs_
    assert np.isfinite(det.score_samples(["CCO"])).all()


def test_thread_count_does_not_change_the_model(freesolv_smiles, assert_same_model):
    a = SEGODetector(**SMALL, num_threads=1).fit(freesolv_smiles[:60])
    b = SEGODetector(**SMALL, num_threads=2).fit(freesolv_smiles[:60])
    assert_same_model(a, b)


_TRAIN_SCRIPT = textwrap.dedent("""
    import sys, hashlib
    import numpy as np
    from molood.detectors.sego.detector import SEGODetector
    smiles = [line.strip() for line in open(sys.argv[1]) if line.strip()]
    det = SEGODetector(epochs=4, batch_size=16, hidden_dim=8, num_layers=2, seed=1,
                       verbose=False, num_threads=None).fit(smiles)
    h = hashlib.sha256()
    for k, v in sorted(det._get_state()[0].items()):
        h.update(k.encode()); h.update(np.ascontiguousarray(v).tobytes())
    print(h.hexdigest())
""")


@pytest.mark.slow
def test_same_seed_same_model_with_one_or_two_cores(freesolv_smiles, tmp_path):
    """Two processes that differ only in the threads OpenMP and torch may use (what moving from
    a laptop to a node changes) train the same model."""
    smi = tmp_path / "train.smi"
    smi.write_text("\n".join(freesolv_smiles[:60]))
    digests = []
    for threads in ("1", "2"):
        env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        out = subprocess.run([sys.executable, "-c", _TRAIN_SCRIPT, str(smi)], env=env,
                             capture_output=True, text=True, check=True)
        digests.append(out.stdout.strip().splitlines()[-1])
    assert digests[0] == digests[1]
