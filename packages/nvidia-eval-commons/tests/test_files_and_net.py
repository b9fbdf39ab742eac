"""Atomic writes, file digests and free ports: the shared helpers."""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

import pytest

from nvidia_eval_commons.files import atomic_write, sha256_file
from nvidia_eval_commons.net import free_port


def test_atomic_write_text_and_bytes_replace_the_file_with_a_readable_mode(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.json"
    old = os.umask(0o022)
    try:
        atomic_write(target, "héllo\n")
        assert target.read_bytes() == "héllo\n".encode()
        atomic_write(target, b"\x00\x01")
    finally:
        os.umask(old)
    assert target.read_bytes() == b"\x00\x01"
    assert target.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError):
        atomic_write(tmp_path / "dir", "x")  # the rename onto a directory fails
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]

    class Boom(str):
        def encode(self, *args: object, **kwargs: object) -> bytes:  # type: ignore[override]
            raise KeyboardInterrupt

    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, Boom("new"))
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "keep.txt"]


@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1])
def test_sha256_file_matches_hashlib_around_the_block_size(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_free_port_can_be_bound() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
