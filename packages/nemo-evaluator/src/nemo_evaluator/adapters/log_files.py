"""The files the adapter writes to its output directory, and values made safe to write there.

JSON summaries (``adapter_stats.json`` and the interceptors' own) are written whole or not at
all; request and response logs are JSON lines appended one at a time, capped, flushed per line;
header values that are secrets are masked before anything is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nvidia_eval_commons.files import atomic_write

# Headers whose values are secrets: forwarded upstream, never written to a log.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie"}
)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` via a temp file and rename (never half a file)."""
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True))


class JsonlWriter:
    """Appends JSON lines to one file, at most ``limit`` of them (``None``: no limit).

    Each line is flushed as written, so a killed process loses no finished line.
    """

    def __init__(self, path: Path, *, limit: int | None) -> None:
        import threading

        self.path = path
        self.limit = limit
        self.written = 0
        self._lock = threading.Lock()
        self._fh: Any = None

    def wants_more(self) -> bool:
        """Cheap check before building a record (no lock: a stale read only costs a record)."""
        return self.limit is None or self.written < self.limit

    def write(self, record: dict[str, Any]) -> bool:
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            if self.limit is not None and self.written >= self.limit:
                return False
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
            self._fh.write(line)
            self._fh.flush()
            self.written += 1
            return True

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


def body_for_log(raw: bytes, parsed: Any) -> Any:
    """The JSON value of a body, or its text when it is not JSON."""
    if parsed is not None:
        return parsed
    return raw.decode("utf-8", errors="replace")


def loggable_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers with secret values masked."""
    return {k: ("***" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}
