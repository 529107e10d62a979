"""Which columns of a table label its molecules: an ID column and a human-readable name column.

One rule, shared by reports (top molecules are labelled by their ID), explanations and the
reference sets built from library files (neighbours are shown by name). Standard library only.
"""

from __future__ import annotations

from typing import Sequence

from molood.exceptions import MoloodInputError

__all__ = ["ID_COLUMNS", "NAME_COLUMNS", "find_label_columns"]

ID_COLUMNS = ("id", "molecule_chembl_id", "chembl_id", "compound_id", "mol_id", "molecule_id",
              "zinc_id", "cid", "_name")
"""Column names taken as a molecule ID, in priority order (case-insensitive); ``_Name`` is an
SD record's title line."""

NAME_COLUMNS = ("name", "pref_name", "iupac", "title", "_name")
"""Column names taken as a molecule's name, in priority order (case-insensitive)."""


def _first(columns: Sequence[str], wanted: Sequence[str], skip: str | None) -> str | None:
    lower = {c.lower(): c for c in reversed(columns) if c != skip}
    return next((lower[w] for w in wanted if w in lower), None)


def find_label_columns(columns: Sequence[str], id_col: str | None = None,
                       name_col: str | None = None, source: str = "input"
                       ) -> tuple[str | None, str | None]:
    """(ID column, name column) of a table with ``columns``: the given ones (which must exist),
    else the first of :data:`ID_COLUMNS` / :data:`NAME_COLUMNS` present; None where there is
    none. The two are never the same column."""
    columns = [str(c) for c in columns]
    for given in (id_col, name_col):
        if given is not None and given not in columns:
            raise MoloodInputError(f"{source}: no column {given!r}; columns are {columns}")
    id_col = id_col or _first(columns, ID_COLUMNS, name_col)
    name_col = name_col or _first(columns, NAME_COLUMNS, id_col)
    return id_col, name_col
