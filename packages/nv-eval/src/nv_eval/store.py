"""The invocation store: embedded SQLite under ``$NV_EVAL_HOME`` (default ``~/.nv-eval``).

An invocation is one ``nv-eval run``: an id, its resolved config (secrets masked) and its jobs.
Each job keeps its task, state, timestamps, directories and the executor's handle (a pid, a
Slurm job id, a Lepton job name). The database runs in WAL mode with a busy timeout, and
every write is a short ``BEGIN IMMEDIATE`` transaction, so several commands (a ``run`` that
watches, a ``status`` in another shell, a ``kill``) can use it at once.
"""

from __future__ import annotations

import difflib
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UnknownIdError

HOME_ENV = "NV_EVAL_HOME"
STATES = ("pending", "running", "success", "failed", "killed")
TERMINAL_STATES = frozenset({"success", "failed", "killed"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS invocations (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    executor TEXT NOT NULL,
    output_dir TEXT NOT NULL,
    config TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    invocation_id TEXT NOT NULL REFERENCES invocations(id),
    idx INTEGER NOT NULL,
    task TEXT NOT NULL,
    state TEXT NOT NULL,
    job_dir TEXT NOT NULL,
    output_dir TEXT NOT NULL,
    handle TEXT NOT NULL DEFAULT '{}',
    submitted_at REAL,
    started_at REAL,
    finished_at REAL,
    exit_code INTEGER,
    message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_by_invocation ON jobs(invocation_id, idx);
"""


def home_dir() -> Path:
    """``$NV_EVAL_HOME`` or ``~/.nv-eval``."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".nv-eval").expanduser()


@dataclass
class JobRecord:
    id: str
    invocation_id: str
    idx: int
    task: str
    state: str
    job_dir: str
    output_dir: str
    handle: dict[str, Any] = field(default_factory=dict)
    submitted_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    message: str = ""

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def runtime(self, now: float | None = None) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else (now or time.time())
        return max(0.0, end - self.started_at)


@dataclass
class InvocationRecord:
    id: str
    created_at: float
    executor: str
    output_dir: str
    config: dict[str, Any]


def _job(row: sqlite3.Row) -> JobRecord:
    data = dict(row)
    data["handle"] = json.loads(data["handle"] or "{}")
    return JobRecord(**data)


def _invocation(row: sqlite3.Row) -> InvocationRecord:
    data = dict(row)
    data["config"] = json.loads(data["config"])
    return InvocationRecord(**data)


class Store:
    """The SQLite store of invocations and jobs."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else home_dir() / "invocations.db"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        with self._write() as conn:
            for stmt in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                conn.execute(stmt)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # -- invocations ---------------------------------------------------------------------
    def create_invocation(
        self, *, executor: str, output_dir: str, config: dict[str, Any], tasks: list[str]
    ) -> tuple[InvocationRecord, list[JobRecord]]:
        """A new invocation with one pending job per task; directories are filled in later."""
        now = time.time()
        with self._write() as conn:
            while True:
                inv_id = secrets.token_hex(4)
                if not conn.execute("SELECT 1 FROM invocations WHERE id=?", (inv_id,)).fetchone():
                    break
            conn.execute(
                "INSERT INTO invocations VALUES (?,?,?,?,?)",
                (inv_id, now, executor, output_dir, json.dumps(config)),
            )
            for idx, task in enumerate(tasks):
                conn.execute(
                    "INSERT INTO jobs (id, invocation_id, idx, task, state, job_dir, output_dir)"
                    " VALUES (?,?,?,?,?,?,?)",
                    (f"{inv_id}.{idx}", inv_id, idx, task, "pending", "", ""),
                )
        return self.invocation(inv_id), self.jobs(inv_id)

    def invocation(self, inv_id: str) -> InvocationRecord:
        row = self._conn.execute("SELECT * FROM invocations WHERE id=?", (inv_id,)).fetchone()
        if row is None:
            raise UnknownIdError(f"no invocation '{inv_id}'")
        return _invocation(row)

    def invocations(self, *, limit: int = 50) -> list[InvocationRecord]:
        rows = self._conn.execute(
            "SELECT * FROM invocations ORDER BY created_at DESC LIMIT ?", (limit,)
        ).fetchall()
        return [_invocation(r) for r in rows]

    # -- jobs ----------------------------------------------------------------------------
    def jobs(self, inv_id: str) -> list[JobRecord]:
        rows = self._conn.execute(
            "SELECT * FROM jobs WHERE invocation_id=? ORDER BY idx", (inv_id,)
        ).fetchall()
        return [_job(r) for r in rows]

    def job(self, job_id: str) -> JobRecord:
        row = self._conn.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise UnknownIdError(f"no job '{job_id}'")
        return _job(row)

    def update_job(self, job_id: str, **fields: Any) -> None:
        """Set columns of one job (``handle`` is stored as JSON)."""
        if not fields:
            return
        if "handle" in fields:
            fields["handle"] = json.dumps(fields["handle"])
        if "state" in fields and fields["state"] not in STATES:
            raise ValueError(f"unknown job state {fields['state']!r}")
        cols = ", ".join(f"{k}=?" for k in fields)
        with self._write() as conn:
            conn.execute(f"UPDATE jobs SET {cols} WHERE id=?", (*fields.values(), job_id))

    # -- ids -----------------------------------------------------------------------------
    def resolve(self, ident: str) -> tuple[InvocationRecord, JobRecord | None]:
        """The invocation (and job, for ``<inv>.<n>``) that ``ident`` or a unique prefix names.

        An unknown id raises UnknownIdError naming the nearest known ids.
        """
        ident = ident.strip()
        inv_part, _, job_part = ident.partition(".")
        rows = self._conn.execute(
            "SELECT id FROM invocations WHERE id LIKE ? ESCAPE '\\'",
            (inv_part.replace("%", "\\%").replace("_", "\\_") + "%",),
        ).fetchall()
        matches = [r["id"] for r in rows]
        if inv_part in matches:
            matches = [inv_part]
        if len(matches) > 1:
            raise UnknownIdError(
                f"id prefix '{inv_part}' is ambiguous: {', '.join(sorted(matches)[:5])}; "
                "give more characters"
            )
        if not matches:
            raise UnknownIdError(self._unknown_message(ident))
        inv = self.invocation(matches[0])
        if not job_part:
            return inv, None
        job_id = f"{inv.id}.{job_part}"
        try:
            return inv, self.job(job_id)
        except UnknownIdError:
            valid = ", ".join(j.id for j in self.jobs(inv.id))
            raise UnknownIdError(f"no job '{ident}'; jobs of {inv.id}: {valid}") from None

    def _unknown_message(self, ident: str) -> str:
        known = [r["id"] for r in self._conn.execute("SELECT id FROM invocations")]
        close = difflib.get_close_matches(ident.partition(".")[0], known, n=3, cutoff=0.3)
        if close:
            return f"no invocation '{ident}'; did you mean {' or '.join(close)}?"
        if known:
            return f"no invocation '{ident}'; `nv-eval ls` lists the invocations"
        return f"no invocation '{ident}': nothing has been run yet (store: {self.path})"


__all__ = [
    "HOME_ENV",
    "STATES",
    "TERMINAL_STATES",
    "InvocationRecord",
    "JobRecord",
    "Store",
    "home_dir",
]
