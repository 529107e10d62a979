"""Atomic file writes and file hashes: the one implementation every writer of molood uses.

A file is written to ``<path>.part`` next to ``path`` (same directory, so the final
``os.replace`` is an atomic rename), flushed to disk with ``fsync`` and moved into place only
when complete; on any exception the partial file is removed. A reader therefore sees the old
file or the whole new one, never a truncated one, whatever happens to the writing process.

:func:`atomic_path` is the usual entry point (a context manager yielding the temporary path, for
writers that take a file name: Parquet writers, ``safetensors``, ``open``);
:func:`part_path`/:func:`commit_part`/:func:`remove_part` are its steps, for writers that hold a
file open across calls (:class:`molood.io.writers.Writer`). The temporary file is created by
the caller's own writer; on commit its mode is set to what ``open()`` gives (``0o666`` minus
the umask), since some writers (``safetensors``) create ``0o600`` files. Standard library only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Iterator

__all__ = [
    "PART_SUFFIX",
    "part_path",
    "commit_part",
    "remove_part",
    "atomic_path",
    "write_bytes_atomic",
    "write_text_atomic",
    "file_sha256",
]

PART_SUFFIX = ".part"
"""What :func:`part_path` appends to a file name."""


def part_path(path: str | os.PathLike) -> Path:
    """The temporary file ``<path>.part`` in the directory of ``path``."""
    return Path(os.fspath(path) + PART_SUFFIX)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def commit_part(part: str | os.PathLike, path: str | os.PathLike) -> None:
    """Flush the finished, closed file ``part`` to disk and rename it to ``path`` (atomic), with
    the mode ``open()`` would have given it."""
    os.chmod(part, 0o666 & ~_umask())
    fd = os.open(part, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(part, path)


def remove_part(part: str | os.PathLike) -> None:
    """Delete ``part`` if it exists (a discarded or stale partial file)."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(part)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, makedirs: bool = False) -> Iterator[Path]:
    """Yield the temporary path to write ``path``'s content to; commit it on success.

    On leaving the block normally the temporary file (which the block must have written and
    closed) is fsynced and renamed to ``path``; on any exception (Ctrl-C included) it is
    removed and the exception propagates, so nothing new appears at ``path``. A stale
    temporary file from a killed earlier write is removed first. ``makedirs`` creates the
    parent directory if needed.

    >>> with atomic_path("model.molood") as tmp:  # doctest: +SKIP
    ...     save_file(tensors, str(tmp))
    """
    part = part_path(path)
    if makedirs:
        part.parent.mkdir(parents=True, exist_ok=True)
    remove_part(part)
    try:
        yield part
        commit_part(part, path)
    except BaseException:
        remove_part(part)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *, makedirs: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path, makedirs=makedirs) as part:
        part.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str, *, makedirs: bool = False) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    write_bytes_atomic(path, text.encode("utf-8"), makedirs=makedirs)


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
