"""molood._fs: atomic writes (whole file or nothing, no leftovers) and file hashes."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from molood._fs import (
    atomic_path,
    commit_part,
    file_sha256,
    part_path,
    remove_part,
    write_bytes_atomic,
    write_text_atomic,
)


def test_atomic_path_commits_on_success(tmp_path):
    out = tmp_path / "out.bin"
    with atomic_path(out) as tmp:
        assert tmp == part_path(out) and tmp.parent == tmp_path
        tmp.write_bytes(b"new")
        assert not out.exists()  # nothing at the path until the block ends
    assert out.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_atomic_path_leaves_nothing_behind_on_error(tmp_path, exc):
    out = tmp_path / "out.bin"
    out.write_bytes(b"old")
    with pytest.raises(exc):
        with atomic_path(out) as tmp:
            tmp.write_bytes(b"half")
            raise exc("boom")
    assert out.read_bytes() == b"old"  # the previous file is untouched
    assert os.listdir(tmp_path) == ["out.bin"]


def test_atomic_path_error_before_anything_was_written(tmp_path):
    with pytest.raises(ValueError):
        with atomic_path(tmp_path / "x"):
            raise ValueError
    assert os.listdir(tmp_path) == []


def test_stale_part_is_replaced_and_mode_follows_umask(tmp_path):
    out = tmp_path / "out.txt"
    stale = part_path(out)
    stale.write_text("from a killed run")
    stale.chmod(0o600)
    old = os.umask(0o022)
    try:
        write_text_atomic(out, "fresh")
    finally:
        os.umask(old)
    assert out.read_text() == "fresh" and not stale.exists()
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # as open() creates a file


def test_makedirs_and_bytes(tmp_path):
    out = tmp_path / "a" / "b" / "c.bin"
    with pytest.raises(FileNotFoundError):
        write_bytes_atomic(out, b"x")
    write_bytes_atomic(out, b"\x00\x01", makedirs=True)
    assert out.read_bytes() == b"\x00\x01"


def test_commit_and_remove_part(tmp_path):
    out = tmp_path / "o"
    part = part_path(out)
    part.write_text("done")
    commit_part(part, out)
    assert out.read_text() == "done" and not part.exists()
    remove_part(part)  # missing: no error
    part.write_text("x")
    remove_part(part)
    assert not part.exists()


def test_file_sha256(tmp_path):
    p = tmp_path / "f"
    data = os.urandom(3 << 20)  # several read blocks
    p.write_bytes(data)
    assert file_sha256(p) == hashlib.sha256(data).hexdigest()
