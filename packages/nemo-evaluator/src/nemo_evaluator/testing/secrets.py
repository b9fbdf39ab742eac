"""Finding an API key where it must never be: in any file under a directory.

Test suites of the stack (and of tools built on it) run with keys of every shape a real key
takes and then assert that no output file holds one in any form it could be written in.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

KEY_SHAPES = {
    "upper": "ABC_DEF_123_XYZ9",
    "sk": "sk-proj-Ab12Cd34Ef56Gh78",
    "symbols": "p@$s:w0rd!#%&*+/=?^~'\"`|<>",
}
"""Keys of the shapes real ones take; ``upper`` looks exactly like an environment variable's
name, ``symbols`` needs escaping in JSON, YAML and shell."""


def key_forms(key: str) -> list[bytes]:
    """The key as text, JSON-escaped, base64 and as a ``Bearer`` header value."""
    return [
        key.encode(),
        json.dumps(key)[1:-1].encode(),
        base64.b64encode(key.encode()),
        f"Bearer {key}".encode(),
    ]


def files_holding(root: Path, key: str) -> list[str]:
    """The files under ``root`` (relative paths) that hold ``key`` in any of its forms."""
    forms = key_forms(key)
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if any(form in data for form in forms):
                found.append(str(path.relative_to(root)))
    return found


__all__ = ["KEY_SHAPES", "files_holding", "key_forms"]
