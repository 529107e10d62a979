"""The hybrid detector's streamed training (molood.detectors.hybrid.table and
HybridDetector.fit_chunks): the model does not depend on chunking or processes, molecules are
not kept, and memory grows by a compact table, not by molecules."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from molood.chem.atomtypes import AtomTypeSet
from molood.chem.standardize import resolve_standardizer
from molood.detectors.hybrid.detector import HybridDetector
from molood.detectors.hybrid.table import concat_tables, profile_chunk


def test_chunking_and_processes_do_not_change_the_model(freesolv_smiles, assert_same_model):
    data = freesolv_smiles[:300] + [None, "not a smiles"] + freesolv_smiles[300:400]
    params = dict(seed=2, verbose=False, on_invalid="skip", calibration_size=150,
                  neighbors_size=250)
    with pytest.warns(UserWarning, match="skipping 2"):
        whole = HybridDetector(**params).fit(data)
    cuts = [data[:7], data[7:290], data[290:303], data[303:]]
    with pytest.warns(UserWarning, match="skipping 2"):
        chunked = HybridDetector(**params).fit_chunks(iter(cuts))
    with pytest.warns(UserWarning, match="skipping 2"):
        parallel = HybridDetector(**params, n_jobs=2).fit_chunks(iter(cuts))
    assert_same_model(whole, chunked)  # the training-set hash included
    assert_same_model(whole, parallel)
    assert whole.n_fit_ == 400
    # reference positions count across chunks: the molecule after the bad rows is found
    assert whole.reference_.source_index.max() == len(data) - 1


def test_table_is_what_the_molecules_say(freesolv_smiles):
    from rdkit import Chem

    from molood.chem.atomtypes import atom_types
    from molood.chem.fingerprints import packed_fingerprints

    std = resolve_standardizer("default")
    t = concat_tables([profile_chunk(freesolv_smiles[:30], std, True, start=0),
                       profile_chunk(["C[N+](C)(C)C.[Cl-]", None], std, True, start=30)])
    mols = [Chem.MolFromSmiles(s) for s in t.smiles]
    assert len(t) == 31 and t.n_items == 32 and t.errors == [(31, "missing value")]
    np.testing.assert_array_equal(t.fingerprints, packed_fingerprints(mols))
    assert t.positions.tolist() == list(range(31))
    for i, m in enumerate(mols):
        np.testing.assert_array_equal(t.types(i), np.unique(atom_types(m), axis=0))
    full = AtomTypeSet.build([atom_types(m) for m in mols])
    fast = AtomTypeSet.from_distinct(t.type_rows, t.type_offsets)
    for a, b, c, d in zip(full.codes, fast.codes, full.counts, fast.counts):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(c, d)


def test_train_file_streams_the_library(tmp_path, freesolv_smiles, monkeypatch):
    """train_file hands the detector the file a read batch at a time, lazily."""
    import molood.train as train_mod

    csv = tmp_path / "lib.csv"
    csv.write_text("smiles\n" + "\n".join(freesolv_smiles[:250]) + "\n")
    monkeypatch.setattr(train_mod, "_READ_ROWS", 100)
    seen: list[int] = []
    real = HybridDetector.fit_chunks

    def spy(self, chunks, **kw):
        def watch():
            for c in chunks:
                seen.append(len(c))
                yield c
        assert kw["expected"] == 250  # a row estimate, for progress lines (verbose fits)
        return real(self, watch(), **kw)

    monkeypatch.setattr(HybridDetector, "fit_chunks", spy)
    det = train_mod.train_file(csv, tmp_path / "m.molood", seed=0, verbose=True)
    assert seen == [100, 100, 50] and det.n_fit_ == 250


_FIT = textwrap.dedent("""
    import resource, sys
    from molood.detectors.hybrid import table
    from molood.detectors.hybrid.detector import HybridDetector
    from molood.chem import neighbors
    # both sizes well above one chunk (which holds RDKit molecules) and one block of
    # neighbour similarities (a fixed working buffer)
    table.CHUNK = 500
    neighbors._QUERY_BLOCK_CELLS = 200_000
    smiles = [l.strip() for l in open(sys.argv[1]) if l.strip()] * int(sys.argv[2])
    # only the fit's own growth: read the base after the imports
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    HybridDetector(verbose=False, calibration_size=500).fit(smiles)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)
""")


@pytest.mark.slow
def test_memory_grows_by_a_compact_table_not_by_molecules(tmp_path, freesolv_smiles):
    """Fitting 4x the molecules costs ~1 kB more a molecule, where keeping RDKit molecules
    costs ~10 kB (measured in a fresh process: peak RSS after the imports; molecules are
    held one chunk at a time, similarities one fixed-size block at a time)."""
    smi = tmp_path / "train.smi"
    smi.write_text("\n".join(freesolv_smiles))
    grow = []
    for copies in (4, 16):  # 2,568 and 10,272 molecules
        out = subprocess.run([sys.executable, "-c", _FIT, str(smi), str(copies)],
                             capture_output=True, text=True, check=True)
        grow.append(int(out.stdout.strip().splitlines()[-1]) * 1024)
    per_extra = (grow[1] - grow[0]) / (12 * len(freesolv_smiles))
    assert per_extra < 4_000, per_extra


def test_progress_lines_say_what_is_left(freesolv_smiles, capsys, caplog, monkeypatch):
    """(to the log when logging is configured, else straight to stderr)"""
    import logging

    from molood import _term

    monkeypatch.setattr(_term, "PROGRESS_SECONDS", 0.0)
    data = freesolv_smiles[:300]
    with caplog.at_level(logging.INFO, logger="molood"):
        HybridDetector(verbose=True).fit_chunks([data[:100], data[100:]], expected=600)
    text = capsys.readouterr().err + caplog.text
    lines = [x for x in text.splitlines() if "molecules read" in x]
    assert lines and "of reading left" in lines[0]
    assert "300 molecules read" in lines[-1]
