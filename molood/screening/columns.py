"""Names of the result columns that :func:`~molood.screening.engine.screen` writes, the
``DataFrame.molood`` accessor returns and :mod:`molood.screening.shard_summary` summarizes:
their one definition, in a module without imports so that any of them can use it. What the columns
hold (higher score = more OOD) is described in :mod:`molood.screening.engine`.
"""

from __future__ import annotations

__all__ = ["SCORE_COLUMN", "PVALUE_COLUMN", "IS_OOD_COLUMN", "STATUS_COLUMN", "SMILES_COLUMN",
           "OUTPUT_COLUMNS", "EVIDENCE_PREFIX", "EVIDENCE_FLOAT", "EVIDENCE_OUTPUT_COLUMNS",
           "evidence_column"]

SCORE_COLUMN = "molood_score"
PVALUE_COLUMN = "molood_pvalue"
IS_OOD_COLUMN = "molood_is_ood"
STATUS_COLUMN = "molood_status"
SMILES_COLUMN = "molood_smiles"
"""The standardised, canonical SMILES a row was scored as (optional: ``smiles_column=False``)."""
EVIDENCE_PREFIX = "molood_"
"""A detector's evidence ``name`` is written as the column ``molood_<name>`` (the hybrid
detector's: ``molood_nearest_smiles``, ``molood_nearest_id``, ``molood_nearest_similarity``,
``molood_reason``)."""
EVIDENCE_FLOAT = frozenset({"nearest_similarity"})
"""Evidence names whose column holds numbers (float64); the others hold strings."""
OUTPUT_COLUMNS = (SCORE_COLUMN, PVALUE_COLUMN, IS_OOD_COLUMN, STATUS_COLUMN, SMILES_COLUMN)
"""The result columns every screen writes (``molood_smiles`` unless switched off)."""
EVIDENCE_OUTPUT_COLUMNS = ("molood_nearest_smiles", "molood_nearest_id",
                           "molood_nearest_similarity", "molood_reason")
"""The evidence columns a hybrid model adds after them."""


def evidence_column(name: str) -> str:
    """The output column of evidence ``name``."""
    return EVIDENCE_PREFIX + name
