"""RDKit helpers: silence RDKit's C++ logging locally and turn its messages into short reasons.

RDKit reports parse and sanitization failures on its C++ log (stderr) and returns ``None``.
molood never lets that reach stderr; the message is captured and returned as the row's error
reason instead. Nothing here changes RDKit's global log settings permanently: ``BlockLogs`` and
``CaptureErrorLog`` restore the previous state when they go out of scope.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Literal

import numpy as np
from rdkit import Chem, rdBase

__all__ = [
    "canonical_smiles",
    "InputKind",
    "INPUT_KINDS",
    "quiet_rdkit",
    "call_capturing",
    "clean_message",
    "check_kind",
    "parse",
    "parse_smiles",
    "parse_molblock",
    "is_plain_smiles",
]

InputKind = Literal["smiles", "molblock"]
"""What a raw input value is: a SMILES string or an MDL mol block (an SD record)."""

INPUT_KINDS: tuple[InputKind, ...] = ("smiles", "molblock")

_TIMESTAMP = re.compile(r"^\[\d\d:\d\d:\d\d\]\s?")
_MAX_REASON = 300
_MAX_ECHO = 1 << 23
"""Largest ``branch depth × length`` of a SMILES whose RDKit error message is captured. On a
syntax error inside open branches, RDKit's parser echoes the whole input once per open branch:
50,000 unclosed ``C(`` made a 5 GB message and a 19 GB process, where parsing alone takes
0.03 s. Above this (8 MB of message), the reason is given without RDKit's text."""


@contextmanager
def quiet_rdkit() -> Iterator[None]:
    """Block every RDKit log message while the context is active (restored on exit)."""
    block = rdBase.BlockLogs()
    try:
        yield
    finally:
        del block


def clean_message(raw: str) -> str:
    """One-line reason from captured RDKit log text: timestamps, stack traces and
    boilerplate removed, at most 300 characters."""
    lines = []
    for line in raw.splitlines():
        line = _TIMESTAMP.sub("", line).strip()
        if not line or line.startswith("****") or line.startswith("----"):
            continue
        if line.startswith(("Stacktrace:", "Violation occurred", "Failed Expression")):
            continue
        if re.match(r"^\d+# ", line):  # stack frame
            continue
        if line in {"^", "Post-condition Violation", "Pre-condition Violation"}:
            continue
        if set(line) <= set("~^ "):  # the caret line under a SMILES
            continue
        lines.append(line)
    # de-duplicate while keeping order (RDKit often repeats the input)
    seen: set[str] = set()
    out = [x for x in lines if not (x in seen or seen.add(x))]
    text = "; ".join(out)
    return text[:_MAX_REASON]


_HAS_CAPTURE = hasattr(rdBase, "CaptureErrorLog")


def call_capturing(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, str]:
    """Call ``fn`` with RDKit logs blocked; return (result or None, cleaned error text).

    Python exceptions raised by RDKit are caught and reported in the text, never propagated.
    """
    with quiet_rdkit():
        if _HAS_CAPTURE:
            with rdBase.CaptureErrorLog() as cap:
                try:
                    result, exc = fn(*args, **kwargs), None
                except Exception as e:  # noqa: BLE001 - RDKit raises many exception types
                    result, exc = None, e
            try:
                msg = cap.messages
            except UnicodeDecodeError:  # RDKit may cut a multi-byte character in its echo
                msg = ""
        else:  # pragma: no cover - RDKit < 2026.03 has no CaptureErrorLog
            try:
                result, exc = fn(*args, **kwargs), None
            except Exception as e:  # noqa: BLE001
                result, exc = None, e
            msg = ""
    text = clean_message(msg)
    if exc is not None:
        text = "; ".join(x for x in (f"{type(exc).__name__}: {exc}".strip(), text) if x)
    return result, text[:_MAX_REASON]


def parse_smiles(smiles: object) -> tuple[Chem.Mol | None, str | None]:
    """Parse one SMILES (sanitized, hydrogens removed: RDKit's defaults, as OGB).

    Returns (mol, None) or (None, reason). Never raises. Reasons: ``"empty"`` (None, NaN,
    blank string or a molecule with no atoms), ``"invalid_smiles: <RDKit message>"``.
    Surrounding whitespace is stripped; anything after inner whitespace is the molecule name
    (SMILES-file convention, RDKit's behaviour) unless it is a CXSMILES ``|...|`` block.
    """
    if smiles is None:
        return None, "empty"
    if not isinstance(smiles, str):
        if isinstance(smiles, float) and smiles != smiles:  # NaN
            return None, "empty"
        return None, f"invalid_smiles: not a string ({type(smiles).__name__})"
    s = smiles.strip()
    if not s:
        return None, "empty"
    if "\x00" in s:
        return None, "invalid_smiles: NUL character in input"
    if not s.isascii():
        bad = next(c for c in s if not c.isascii())
        return None, f"invalid_smiles: non-ASCII character {bad!r} (SMILES is ASCII)"
    if len(s) * len(s) > _MAX_ECHO and (depth := _branch_depth(s)) * len(s) > _MAX_ECHO:
        with quiet_rdkit():  # no capture: RDKit's message would be depth × length characters
            mol = Chem.MolFromSmiles(s)
        if mol is None:
            return None, (f"invalid_smiles: RDKit could not parse the SMILES ({len(s)} "
                          f"characters, branches nested {depth} deep; RDKit's message not "
                          "captured)")
        return (None, "empty") if mol.GetNumAtoms() == 0 else (mol, None)
    return _parsed(Chem.MolFromSmiles, s, "invalid_smiles", "the SMILES")


def _branch_depth(s: str) -> int:
    """Deepest nesting of ``(`` branches in an ASCII string (0 when there are none)."""
    b = np.frombuffer(s.encode("ascii"), dtype=np.uint8)
    steps = (b == ord("(")).astype(np.int64) - (b == ord(")"))
    return max(0, int(np.cumsum(steps).max())) if b.size else 0


def parse_molblock(block: object) -> tuple[Chem.Mol | None, str | None]:
    """Parse one MDL mol block (sanitized, hydrogens removed). Never raises.

    Reasons: ``"empty"`` (missing block or no atoms), ``"sdf_parse_error: <RDKit message>"``.
    """
    if block is None or not isinstance(block, str) or not block.strip():
        return None, "empty"
    return _parsed(Chem.MolFromMolBlock, block, "sdf_parse_error", "the record")


def _parsed(parser: Callable[[str], Any], text: str, error: str, what: str
            ) -> tuple[Chem.Mol | None, str | None]:
    """Run an RDKit parser quietly: (mol, None), or (None, ``"<error>: <RDKit message>"``),
    or (None, ``"empty"``) for a molecule without atoms."""
    mol, msg = call_capturing(parser, text)
    if mol is None:
        return None, f"{error}: {msg or f'RDKit could not parse {what}'}"
    if mol.GetNumAtoms() == 0:
        return None, "empty"
    return mol, None


def check_kind(kind: str) -> InputKind:
    """``kind`` if it is one of :data:`INPUT_KINDS`, else ValueError."""
    if kind not in INPUT_KINDS:
        raise ValueError(f"input kind must be one of {INPUT_KINDS}, got {kind!r}")
    return kind  # type: ignore[return-value]


def parse(value: object, kind: InputKind = "smiles") -> tuple[Chem.Mol | None, str | None]:
    """Parse one raw input of the given kind: :func:`parse_smiles` or :func:`parse_molblock`
    (the one place that dispatches on the kind of a single value). Never raises for the value.
    """
    return parse_molblock(value) if check_kind(kind) == "molblock" else parse_smiles(value)


def is_plain_smiles(t: str) -> bool:
    """Only organic-subset atoms written without brackets, no CXSMILES block, no quadruple bond.

    Then every atom has RDKit's implicit hydrogens: no chiral tag (``@`` needs brackets), no
    radical, and every carbon is neutral (sanitization's clean-up only charges N, P, O and
    halogens) with four bonds + hydrogens. The featurizer (``molood.chem.features``) reads
    fewer RDKit getters for such molecules, and :func:`~molood.chem.atomtypes.atom_types` for
    a plain canonical SMILES; their tests check the result equals the full read.
    """
    return "[" not in t and "|" not in t and "$" not in t


def canonical_smiles(items: Iterable[Any]) -> list[str | None]:
    """RDKit canonical isomeric SMILES of each item (a SMILES string or an RDKit Mol); None where
    RDKit cannot parse it or it is neither. RDKit's log output is blocked."""
    out: list[str | None] = []
    with quiet_rdkit():
        for it in items:
            mol = Chem.MolFromSmiles(it) if isinstance(it, str) else it
            out.append(Chem.MolToSmiles(mol) if isinstance(mol, Chem.Mol) else None)
    return out
