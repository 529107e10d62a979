"""The structures of SD records as text, for a table output of an SD file.

A Parquet or CSV file has no place for a mol block, so :func:`~molood.screening.engine.screen`
of an SD file into a table adds a column with each record's canonical RDKit SMILES (see
:mod:`molood.screening.plan` for its name). The SMILES are made where the records are parsed
anyway, in the scoring workers: :func:`score_job_with_smiles` is the worker task of such a run
(:func:`~molood.screening.worker.score_job` plus the SMILES). Module-level functions, so that
the process pool pickles them by reference; RDKit is imported when they run.
"""

from __future__ import annotations

from typing import Sequence

from molood.chem.parse import InputKind
from molood.screening.scoring import ScoredRows
from molood.screening.worker import score_job

__all__ = ["canonical_smiles", "score_job_with_smiles"]


def canonical_smiles(molblocks: Sequence[str | None]) -> list[str | None]:
    """RDKit's canonical (isomeric) SMILES of each mol block, as RDKit reads the record
    (sanitized, hydrogens removed, nothing else changed); None where RDKit cannot read it or it
    has no atoms. RDKit's messages are captured, never printed."""
    from rdkit import Chem

    from molood.chem.parse import call_capturing

    out: list[str | None] = []
    for block in molblocks:
        mol = None
        if isinstance(block, str) and block.strip():
            mol, _ = call_capturing(Chem.MolFromMolBlock, block)
        if mol is None or mol.GetNumAtoms() == 0:
            out.append(None)
            continue
        smi, _ = call_capturing(Chem.MolToSmiles, mol)
        out.append(smi or None)
    return out


def score_job_with_smiles(inputs: list, kind: InputKind
                          ) -> tuple[ScoredRows, list[str | None]]:
    """The scored rows of one task of mol blocks, and the records' canonical SMILES (as
    written, before any standardisation: the structure column, not ``molood_smiles``)."""
    return score_job(inputs, kind), canonical_smiles(inputs)
