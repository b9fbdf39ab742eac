"""Files written whole or not at all, and file digests: the one copy the stack uses."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

_BLOCK = 1 << 20


def _file_mode() -> int:
    """0666 less the process umask (read from /proc: setting it to read it is not thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o644


@contextmanager
def atomic_open(path: str | Path, *, suffix: str = ".tmp") -> Iterator[BinaryIO]:
    """A binary file to write ``path`` piece by piece, replaced only when the block ends
    without an error (a temporary file in the same directory, then a rename).

    Large outputs stream through it without ever being one string in memory; the mode and
    the error behaviour are those of :func:`atomic_write`.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    try:
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, data: str | bytes, *, suffix: str = ".tmp") -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through a temporary file in the same
    directory and a rename, so a crash or a full disk never leaves half a file behind.

    The file gets the mode a plain ``open`` would give it (0644 under umask 022), not
    mkstemp's 0600, so colleagues can read results on a shared file system. Parent directories
    are created; on any error the temporary file is removed and the error (e.g. ``OSError``
    ENOSPC) propagates with ``path``'s previous content untouched.
    """
    with atomic_open(path, suffix=suffix) as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)


def sha256_file(path: str | Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks (large files never sit in memory)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = ["atomic_open", "atomic_write", "sha256_file"]
