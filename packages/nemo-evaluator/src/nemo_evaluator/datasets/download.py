"""Fetch a canonical file into the cache: one bounded HTTPS request, sha256-checked, atomic."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

from nvidia_eval_commons.files import atomic_write

from .errors import DatasetError

CONNECT_TIMEOUT_S = 15.0
READ_TIMEOUT_S = 120.0
MAX_BYTES = 512 * 1024 * 1024
"""Refuse anything larger: every file we know of is far smaller."""


def fetch_bytes(url: str, *, hint: str) -> bytes:
    """The body at ``url``; a one-line :class:`DatasetError` naming ``hint`` on any failure."""
    import requests

    try:
        with requests.get(url, stream=True, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S)) as resp:
            if resp.status_code != 200:
                raise DatasetError(f"cannot download {url}: HTTP {resp.status_code}; {hint}")
            buf = io.BytesIO()
            for chunk in resp.iter_content(chunk_size=1 << 20):
                buf.write(chunk)
                if buf.tell() > MAX_BYTES:
                    raise DatasetError(f"cannot download {url}: larger than {MAX_BYTES} bytes")
            return buf.getvalue()
    except requests.RequestException as exc:
        cause = type(exc).__name__
        raise DatasetError(f"cannot download {url} ({cause}); {hint}") from None


def extract_member(archive: bytes, member: str, *, url: str) -> bytes:
    """One file out of a zip or tar archive held in memory."""
    try:
        if zipfile.is_zipfile(io.BytesIO(archive)):
            with zipfile.ZipFile(io.BytesIO(archive)) as zf:
                return zf.read(member)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tf:
            fh = tf.extractfile(member)
            if fh is None:
                raise KeyError(member)
            return fh.read()
    except (KeyError, tarfile.TarError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{url} has no readable member '{member}' ({exc})") from None


def write_verified(target: Path, data: bytes, *, expected_sha256: str | None, url: str) -> None:
    """Write ``data`` to ``target`` atomically after checking its sha256 (when known)."""
    if expected_sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != expected_sha256:
            raise DatasetError(
                f"sha256 mismatch for {target.name} from {url}: expected {expected_sha256}, "
                f"got {got}; the source changed, so the file was not used"
            )
    atomic_write(target, data, suffix=".part")
