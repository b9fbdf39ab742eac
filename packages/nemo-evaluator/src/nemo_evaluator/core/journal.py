"""The per-sample journal: one JSON line per finished document, appended as it arrives.

Layout of ``<output_dir>/journal.jsonl``::

    {"kind":"header","version":1,"settings":{...}}        settings that change results
    {"kind":"plan","docs":5700}                            documents this run will have
    {"kind":"sample","doc_id":"...","raw":[...],"error":null,"latency_s":...,...}
    ...

Lines are compact UTF-8 JSON (``fast_json.dumps``); read them as JSON, never as text: a
journal written before holds the same records with spaces after the separators.

Every start or resume appends a ``plan`` line; the last one is the current total (what
``nv-eval status`` shows as progress, see :func:`read_progress`).

Lines are written to the OS in small batches (every ``flush_every`` lines or
``flush_interval_s`` seconds; written lines survive ``kill -9``, and a line not yet written is
only re-run on resume) and fsync'd every ``fsync_interval_s`` seconds and on close. A torn last line
left by a crash is cut off when the journal is reopened. A later line for the same
``doc_id`` replaces an earlier one (a sample that errored and succeeded on resume).

A :class:`Journal` holds no entries in memory, only where each document's last line starts
and whether it failed; :meth:`Journal.entry` reads a line back when the outputs are written, so
memory does not grow with the run's size.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import fast_json
from .errors import EvaluationConfigError

JOURNAL_NAME = "journal.jsonl"
_VERSION = 1


def _diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    changes = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changes.extend(_diff(a, b, f"{prefix}{key}."))
        elif a != b:
            changes.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return changes


def _records(path: Path) -> Iterator[tuple[int, int, dict[str, Any] | None]]:
    """(offset, end offset, record) of every complete line, in file order; the record is
    ``None`` for a line that is not a JSON object (kept in the file, never read as an entry).

    Lines are parsed as JSON, never matched as bytes: a prompt that happens to contain
    ``"kind": "sample"`` is not a sample. Reading stops at a torn last line (a crash
    mid-write).
    """
    if not path.exists():
        return
    pos = 0
    with path.open("rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):
                return  # torn by a crash
            start, pos = pos, pos + len(line)
            try:
                record = fast_json.loads(line)
            except ValueError:
                record = None
            yield start, pos, record if isinstance(record, dict) else None


def _scan(path: Path) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]], int | None]:
    """The header's settings, the last entry of every doc_id and the last plan's size."""
    settings: dict[str, Any] | None = None
    entries: dict[str, dict[str, Any]] = {}
    planned: int | None = None
    for _start, _end, record in _records(path):
        if record is None:
            continue
        kind = record.get("kind")
        if kind == "header":
            settings = record.get("settings", {})
        elif kind == "plan" and isinstance(record.get("docs"), int):
            planned = record["docs"]
        elif kind == "sample" and "doc_id" in record:
            entries[str(record["doc_id"])] = record
    return settings, entries, planned


def read_journal(path: Path) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    """The header's settings and the last entry of every doc_id (torn lines are skipped)."""
    settings, entries, _planned = _scan(path)
    return settings, entries


def _index(
    path: Path,
) -> tuple[dict[str, Any] | None, dict[str, int], set[str], int]:
    """The header's settings, the offset of every doc_id's last line, the doc_ids whose last
    line is an error, and the length of the complete lines (a torn tail is not counted)."""
    settings: dict[str, Any] | None = None
    offsets: dict[str, int] = {}
    failed: set[str] = set()
    size = 0
    for start, end, record in _records(path):
        size = end  # the complete lines so far (what a torn tail is cut back to)
        if record is None:
            continue
        if record.get("kind") == "header":
            settings = record.get("settings", {})
        elif record.get("kind") == "sample" and "doc_id" in record:
            doc_id = str(record["doc_id"])
            offsets[doc_id] = start
            if record.get("error"):
                failed.add(doc_id)
            else:
                failed.discard(doc_id)
    return settings, offsets, failed, size


def read_progress(path: Path) -> tuple[int, int | None]:
    """(documents finished, documents planned) of the journal at ``path``; ``(0, None)`` when
    there is none yet. A document counts once however often it was retried, with or without
    an error; the total is ``None`` for a journal without a plan line."""
    _settings, entries, planned = _scan(path)
    done = len(entries) if planned is None else min(len(entries), planned)
    return done, planned


class Journal:
    """Append-only writer; ``open`` checks the settings of an existing journal first."""

    def __init__(
        self,
        path: Path,
        *,
        settings: dict[str, Any],
        planned: int | None = None,
        flush_every: int = 16,
        flush_interval_s: float = 0.25,
        fsync_interval_s: float = 1.0,
    ) -> None:
        self.path = path
        self.settings = settings
        self.planned = planned
        self.flush_every = flush_every
        self.flush_interval_s = flush_interval_s
        self.fsync_interval_s = fsync_interval_s
        self._last_flush = time.monotonic()
        self._offsets: dict[str, int] = {}
        self._failed: set[str] = set()
        self._size = 0
        self._fh: Any = None
        self._reader: Any = None
        self._unsynced = 0
        self._last_sync = time.monotonic()
        self._lock = threading.Lock()

    def open(self, *, check_settings: bool = True) -> Journal:
        """Index existing entries (refusing other settings), then open for appending."""
        old_settings, self._offsets, self._failed, self._size = _index(self.path)
        if old_settings is not None and check_settings and old_settings != self.settings:
            changes = "; ".join(_diff(old_settings, self.settings)[:3])
            raise EvaluationConfigError(
                f"{self.path.parent} holds a run with other settings ({changes}); to start "
                f"fresh use another output dir or delete {self.path}"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cut_torn_tail()
        self._fh = self.path.open("ab")
        if old_settings is None:
            self._write({"kind": "header", "version": _VERSION, "settings": self.settings})
        if self.planned is not None:
            self._write({"kind": "plan", "docs": self.planned})
        if old_settings is None or self.planned is not None:
            self.sync()
        return self

    def _cut_torn_tail(self) -> None:
        if self.path.exists() and self.path.stat().st_size > self._size:
            with self.path.open("rb+") as fh:
                fh.truncate(self._size)

    def done_ids(self) -> set[str]:
        """Documents that finished without error (skipped on resume)."""
        return self._offsets.keys() - self._failed

    def __contains__(self, doc_id: str) -> bool:
        return doc_id in self._offsets

    def entry(self, doc_id: str) -> dict[str, Any] | None:
        """The last line journaled for ``doc_id``, read back from the file (None if none)."""
        offset = self._offsets.get(doc_id)
        if offset is None:
            return None
        with self._lock:
            if self._fh is not None:
                self._fh.flush()
            if self._reader is None:
                self._reader = self.path.open("rb")
            self._reader.seek(offset)
            line = self._reader.readline()
        record: dict[str, Any] = fast_json.loads(line)
        return record

    def _write(self, record: dict[str, Any]) -> int:
        """Write one line; its offset in the file."""
        data = fast_json.dumps(record) + b"\n"  # reads back as json.loads would have it
        self._fh.write(data)
        start, self._size = self._size, self._size + len(data)
        return start

    def append(self, record: dict[str, Any]) -> None:
        record = {"kind": "sample", **record}
        doc_id = str(record["doc_id"])
        with self._lock:
            self._offsets[doc_id] = self._write(record)
            if record.get("error"):
                self._failed.add(doc_id)
            else:
                self._failed.discard(doc_id)
            self._unsynced += 1
            now = time.monotonic()
            if now - self._last_sync >= self.fsync_interval_s:
                self._sync_locked(now)
            elif (
                self._unsynced % self.flush_every == 0
                or now - self._last_flush >= self.flush_interval_s
            ):
                self._fh.flush()
                self._last_flush = now

    def _sync_locked(self, now: float) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        self._unsynced = 0
        self._last_sync = self._last_flush = now

    def sync(self) -> None:
        with self._lock:
            self._sync_locked(time.monotonic())

    def close(self) -> None:
        """Flush, fsync and close the writer (entries stay readable). On a full disk the
        lines not yet written are dropped (they re-run on resume) and the lines already
        written stay intact; the write error itself was raised by ``append``."""
        with self._lock:
            if self._fh is None:
                return
            fh, self._fh = self._fh, None
            with contextlib.suppress(OSError):
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(OSError):
                fh.close()
            self._unsynced = 0

    def close_reader(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self.close_reader()
