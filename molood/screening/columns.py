"""Names of the result columns that :func:`~molood.screening.engine.screen` writes, the
``DataFrame.molood`` accessor returns and :mod:`molood.screening.shard_summary` summarizes:
their one definition, in a module without imports so that any of them can use it. What the columns
hold (higher score = more OOD) is described in :mod:`molood.screening.engine`.
"""

from __future__ import annotations

__all__ = ["SCORE_COLUMN", "PVALUE_COLUMN", "IS_OOD_COLUMN", "STATUS_COLUMN", "SMILES_COLUMN",
           "OUTPUT_COLUMNS"]

SCORE_COLUMN = "molood_score"
PVALUE_COLUMN = "molood_pvalue"
IS_OOD_COLUMN = "molood_is_ood"
STATUS_COLUMN = "molood_status"
SMILES_COLUMN = "molood_smiles"
"""The standardised, canonical SMILES a row was scored as (optional: ``smiles_column=False``)."""
OUTPUT_COLUMNS = (SCORE_COLUMN, PVALUE_COLUMN, IS_OOD_COLUMN, STATUS_COLUMN, SMILES_COLUMN)
