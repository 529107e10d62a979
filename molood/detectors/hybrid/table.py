"""What a training collection's molecules tell the hybrid detector, computed chunk by chunk so
that a collection of millions never has to be held as RDKit molecules.

:func:`profile_chunk` turns one chunk of inputs (SMILES, RDKit Mols or None) into a compact
:class:`MoleculeTable` (about 700 bytes a molecule: canonical SMILES, packed fingerprint,
descriptors, distinct atom types, atom-environment counts; the molecular graphs too when a
SEGO part needs them); it is what worker processes run. :func:`concat_tables` joins the
chunks in input order. The result does not depend on how the collection was chunked or how
many processes profiled it. RDKit + numpy; no torch.

One table is what the hybrid detector is fitted from
(:meth:`~molood.detectors.hybrid.detector.HybridDetector.fit_chunks`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from molood import _term
from molood.chem.atomtypes import distinct_types
from molood.chem.descriptors import DESCRIPTOR_NAMES
from molood.chem.fingerprints import FP_BYTES
from molood.chem.profiles import ProfileRow, profile_row, profiles
from molood.chem.standardize import Standardizer
from molood.detectors.hybrid.components import EnvironmentCounts
from molood.detectors.inputs import as_list, canonical_keys, keys_sha256
from molood.graphs.arrays import GraphArrays

__all__ = ["MoleculeTable", "profile_chunk", "profile_stream", "concat_tables", "merge_counts"]

progress_log = logging.getLogger("molood.detectors.hybrid.progress")
"""Where a hybrid fit's progress lines go (the CLI keeps it on while quieting the fit's own)."""

CHUNK = 5_000
"""Most molecules profiled per task (a worker holds their profile rows, a few MB)."""

_BLOCK = 128
"""Molecules read, then profiled, then freed together (one process, 10,000 MOSES molecules:
206-217 µs a molecule in blocks of 32-128, 220-248 in blocks of 2,000-10,000, where freeing
the RDKit molecules alone cost ~49 µs a molecule; profiling each molecule right after it is
read, RDKit's steps interleaved, 236-242)."""

_PRELOAD = ("numpy", "rdkit.Chem", "molood.detectors.hybrid.table")


def merge_counts(ids: Sequence[np.ndarray], counts: Sequence[np.ndarray]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique ids, summed counts) of several (ids, counts) pairs."""
    if not ids:
        return np.zeros(0, np.uint32), np.zeros(0, np.int64)
    all_ids = np.concatenate(ids)
    u, inv = np.unique(all_ids, return_inverse=True)
    return u, np.bincount(inv, weights=np.concatenate(counts), minlength=u.size).astype(np.int64)


@dataclass(eq=False)
class MoleculeTable:
    """The valid molecules of a collection (or of one chunk of it), in input order.

    Attributes
    ----------
    n_items : int
        Inputs read (valid or not).
    positions : ndarray int64 [n]
        Input position of each valid molecule.
    errors : list of (int, str)
        (input position, reason) of each invalid input.
    smiles : list of str
        RDKit canonical SMILES of each molecule after standardisation.
    input_smiles : list of str
        Canonical SMILES of each input as given (the training-set hash).
    fingerprints : ndarray uint8 [n, 256]
        Packed Morgan fingerprints (radius 2, 2048 bits).
    desc : ndarray float64 [n, 13]
        :func:`~molood.chem.descriptors.descriptors`.
    type_rows : ndarray int32 [r, 4], type_offsets : ndarray int64 [n + 1]
        Each molecule's distinct :func:`~molood.chem.atomtypes.atom_types` rows.
    env_ids : ndarray uint32 [m], env_counts : ndarray int64 [m]
        Atom-environment identifiers (Morgan radius 0-2) and in how many molecules each occurs.
    graphs : GraphArrays or None
        The molecular graphs (only when asked for).
    """

    n_items: int
    positions: np.ndarray
    errors: list[tuple[int, str]]
    smiles: list[str]
    input_smiles: list[str]
    fingerprints: np.ndarray
    desc: np.ndarray
    type_rows: np.ndarray
    type_offsets: np.ndarray
    env_ids: np.ndarray
    env_counts: np.ndarray
    graphs: GraphArrays | None = None
    _input_sha: str | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.smiles)

    def types(self, i: int) -> np.ndarray:
        """Distinct atom-type rows of molecule ``i``: int64 [t, 4]."""
        return self.type_rows[self.type_offsets[i]:self.type_offsets[i + 1]].astype(np.int64)

    @property
    def elements(self) -> np.ndarray:
        """uint8 [e], sorted: atomic numbers of all the molecules."""
        return np.unique(self.type_rows[:, 0]).astype(np.uint8)

    def input_sha256(self) -> str:
        """SHA-256 of the sorted canonical input SMILES, newline-joined (as
        :func:`~molood.detectors.inputs.smiles_sha256`): independent of input order."""
        if self._input_sha is None:
            self._input_sha = keys_sha256(self.input_smiles)
        return self._input_sha


def profile_chunk(items: Sequence[Any], standardizer: Standardizer | None,
                  largest_fragment: bool, graphs: bool = False, start: int = 0
                  ) -> MoleculeTable:
    """The :class:`MoleculeTable` of one chunk of inputs (SMILES, RDKit Mols, None/NaN for a
    missing value) whose first item is input ``start``; ``graphs`` also featurizes them."""
    from molood.detectors.inputs import to_graph_arrays

    items = list(items)
    rows: list[ProfileRow] = []
    envs: list[np.ndarray] = []
    smiles: list[str] = []
    ok: list[int] = []
    errors: list[str | None] = []
    parts: list[GraphArrays] = []
    for s in range(0, len(items), _BLOCK):
        mols: list[Any] = []
        written: list[str | None] = []
        ga, valid, errs = to_graph_arrays(items[s:s + _BLOCK], largest_fragment,
                                          standardizer=standardizer, smiles_out=written,
                                          mols_out=mols, featurize=graphs)
        for i in np.flatnonzero(valid).tolist():
            rows.append(profile_row(mols[i], written[i], written=True))  # RDKit wrote it
            envs.append(EnvironmentCounts.distinct(mols[i]))
            smiles.append(written[i])
            ok.append(s + i)
        errors.extend(errs)
        if ga is not None:
            parts.append(ga)
        del mols
    prof = profiles(rows)
    type_rows, type_offsets = distinct_types(prof.types)
    counts = EnvironmentCounts.from_distinct(envs)
    return MoleculeTable(
        n_items=len(items), positions=np.array(ok, dtype=np.int64) + int(start),
        errors=[(i + int(start), e) for i, e in enumerate(errors) if e is not None],
        smiles=smiles, input_smiles=canonical_keys([items[i] for i in ok], smiles),
        fingerprints=prof.fingerprints, desc=prof.desc,
        type_rows=type_rows, type_offsets=type_offsets, env_ids=counts.ids,
        env_counts=counts.counts,
        graphs=(GraphArrays.concat(parts) if parts else None) if graphs else None)


def profile_stream(chunks: Iterable[Sequence[Any]], standardizer: Standardizer | None,
                   largest_fragment: bool, graphs: bool = False, n_jobs: int | None = 1,
                   verbose: bool = False, expected: int | None = None) -> MoleculeTable:
    """The :class:`MoleculeTable` of a stream of input chunks, read one at a time, cut into
    tasks of at most :data:`CHUNK` inputs and profiled in ``n_jobs`` processes. ``verbose``:
    a progress line every ``_term.PROGRESS_SECONDS``, with the reading time left when about
    ``expected`` inputs will come. The input SMILES are hashed and dropped
    (:meth:`MoleculeTable.input_sha256`)."""
    from molood._parallel import ordered_map

    def tasks() -> Iterator[tuple]:
        start = 0
        for chunk in chunks:
            chunk = as_list(chunk)
            for s in range(0, len(chunk), CHUNK):
                yield chunk[s:s + CHUNK], standardizer, largest_fragment, graphs, start + s
            start += len(chunk)

    parts, t0, last, n = [], time.monotonic(), time.monotonic(), 0
    for part in ordered_map(profile_chunk, tasks(), n_jobs, preload=_PRELOAD):
        parts.append(part)
        n += part.n_items
        if verbose and time.monotonic() - last >= _term.PROGRESS_SECONDS:
            last = time.monotonic()
            rate = n / (last - t0)
            left = (f", about {_term.duration((expected - n) / rate)} of reading left"
                    if expected and expected > n else "")
            _term.say(progress_log, f"hybrid fit: {n:,} molecules read ({rate:,.0f} a "
                                    f"second{left})")
    table = concat_tables(parts)
    parts.clear()
    table.input_sha256()
    table.input_smiles.clear()  # hashed; ~0.1 kB a molecule not needed any more
    return table


def concat_tables(parts: Sequence[MoleculeTable]) -> MoleculeTable:
    """The chunks' tables joined in order (their ``positions`` already count from the start of
    the collection)."""
    parts = list(parts)
    offsets = [np.zeros(1, np.int64)]
    base = 0
    for p in parts:
        offsets.append(p.type_offsets[1:] + base)
        base += int(p.type_offsets[-1])
    env_ids, env_counts = merge_counts([p.env_ids for p in parts], [p.env_counts for p in parts])
    graphs = [p.graphs for p in parts if p.graphs is not None]
    cat = lambda name, empty: (np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
                               if parts else empty)
    return MoleculeTable(
        n_items=sum(p.n_items for p in parts),
        positions=cat("positions", np.zeros(0, np.int64)),
        errors=[e for p in parts for e in p.errors],
        smiles=[s for p in parts for s in p.smiles],
        input_smiles=[s for p in parts for s in p.input_smiles],
        fingerprints=cat("fingerprints", np.zeros((0, FP_BYTES), np.uint8)),
        desc=cat("desc", np.zeros((0, len(DESCRIPTOR_NAMES)))),
        type_rows=cat("type_rows", np.zeros((0, 4), np.int32)),
        type_offsets=np.concatenate(offsets), env_ids=env_ids.astype(np.uint32),
        env_counts=env_counts,
        graphs=GraphArrays.concat(graphs) if graphs else None)
