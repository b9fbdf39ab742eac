"""Caching: replay successful answers to identical requests from a SQLite file on disk.

The key is a SHA-256 of the upstream URL, the model and the canonical request body (JSON with
sorted keys), so one model never gets another's answers. Only successful (2xx) JSON answers are
stored; a hit answers at once and never reaches upstream.

SQLite in WAL mode gives what the cache needs without a server: many readers with one writer,
safety across threads (one connection per thread) and processes (file locks, a busy timeout),
and atomic commits, so a process killed mid-write leaves the last committed state intact.
``synchronous=NORMAL`` keeps commits cheap; in WAL mode it still never corrupts the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from nvidia_eval_commons.api._strict import StrictModel

from ..interceptor import (
    AdapterRequest,
    AdapterResponse,
    ChainEnv,
    Interceptor,
    RequestContext,
    dumps,
)

CACHE_FILE = "cache.sqlite"
_log = logging.getLogger(__name__)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS responses ("
    " key TEXT PRIMARY KEY, status INTEGER NOT NULL, content_type TEXT,"
    " content BLOB NOT NULL, created REAL NOT NULL)"
)


class CachingConfig(StrictModel):
    """Options of the ``caching`` interceptor."""

    cache_dir: str | None = None
    """Directory of the cache; default ``<output_dir>/cache``."""
    reuse_cached_responses: bool = True
    """Answer from the cache when possible (false: only fill it)."""
    save_responses: bool = True
    """Store successful answers."""


def cache_key(body: Any, *, url: str, model: str | None, canonical: bytes | None = None) -> str:
    """SHA-256 hex of the URL, the model and the canonical JSON body (``canonical``: that
    encoding of ``body``, :func:`~nemo_evaluator.adapters.interceptor.dumps`, when the caller
    has it already)."""
    digest = hashlib.sha256()
    for part in (url, "\x00", model or "", "\x00"):
        digest.update(part.encode("utf-8"))
    digest.update(dumps(body) if canonical is None else canonical)
    return digest.hexdigest()


class ResponseCache:
    """A key -> (status, content type, body) store in one SQLite file; thread- and process-safe.

    Writes are taken off the request path: ``put`` hands the entry to one writer thread that
    commits whatever has piled up in a single transaction, and ``get`` sees entries that are
    still pending, so a repeat request never goes upstream again. The writer is woken only
    when the queue goes from empty to non-empty and then gathers entries for
    ``batch_window_s`` before committing, so a stream of requests pays for neither a thread
    wake-up nor a transaction each. A process killed outright can lose only entries from
    that last window; the file itself stays consistent. ``flush`` and ``close`` cut the
    window short.

    The invariants the code below relies on (each is restated where it is used):

    1. Visible at once: an entry handed to ``put`` is in ``_pending`` or committed to the
       file, at every moment. The writer removes an entry from ``_pending`` only after its
       commit returned, so ``get`` (pending first, then the file) never misses it.
    2. Newest wins: an entry is removed from ``_pending`` only if it is still the very value
       that was committed; a second ``put`` for the same key meanwhile stays pending and is
       committed in the next round.
    3. No lost wake-up: ``_pending``, ``_closing`` and ``_flushers`` change only under
       ``_cond``'s lock, and the writer checks them under that lock before each wait, so it
       never sleeps while there is work it was not told about.
    4. Failed commits lose nothing: a batch whose commit fails stays pending (served by
       ``get``, retried, counted in ``write_errors``).
    5. Close drains: once ``_closing`` is set no ``put`` is accepted, and the writer returns
       only when ``_pending`` is empty (``close`` waits for it at most 30 s).
    """

    def __init__(self, directory: Path, *, batch_window_s: float = 0.02) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.batch_window_s = batch_window_s
        self._flushers = 0
        self.path = directory / CACHE_FILE
        # one connection per thread (sqlite3 objects are not shared); ``_all`` lists them so
        # that ``close`` can close every one, hence check_same_thread=False in ``_conn``
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # key -> entry handed to ``put`` and not yet known to be committed (invariant 1)
        self._pending: dict[str, tuple[int, str | None, bytes]] = {}
        self._cond = threading.Condition(self._lock)
        self._closing = False
        self.write_errors = 0
        conn = self._conn()  # create the schema at start-up: a bad path fails here
        with conn:
            conn.execute(_SCHEMA)
        self._writer = threading.Thread(target=self._write_loop, name="cache-writer", daemon=True)
        self._writer.start()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def get(self, key: str) -> tuple[int, str | None, bytes] | None:
        # Lock-free read: one dict lookup is atomic and entries are immutable tuples. Pending
        # first, then the file: the writer deletes from ``_pending`` only after the commit
        # returned (invariant 1), so between the two reads the entry cannot vanish.
        pending = self._pending.get(key)
        if pending is not None:
            return pending
        row = (
            self._conn()
            .execute("SELECT status, content_type, content FROM responses WHERE key = ?", (key,))
            .fetchone()
        )
        return None if row is None else (row[0], row[1], bytes(row[2]))

    def put(self, key: str, status: int, content_type: str | None, content: bytes) -> None:
        with self._cond:
            if self._closing:  # invariant 5: nothing is accepted that close would not drain
                raise RuntimeError(f"response cache {self.path} is closed")
            wake = not self._pending
            self._pending[key] = (status, content_type, content)
            # Invariant 3: with entries already pending the writer is awake (gathering or
            # committing) and takes a fresh snapshot after its commit, so it needs no notify.
            if wake:
                self._cond.notify_all()

    def _commit(self, batch: dict[str, tuple[int, str | None, bytes]]) -> None:
        now = time.time()
        conn = self._conn()
        with conn:
            conn.executemany(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)",
                [(k, st, ct, body, now) for k, (st, ct, body) in batch.items()],
            )

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                # invariant 3: the predicate is checked under the lock before every wait
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._closing and not self._flushers and self.batch_window_s > 0:
                    # gather more entries into this transaction (close/flush notify to end it)
                    self._cond.wait(timeout=self.batch_window_s)
                if not self._pending and self._closing:
                    return  # invariant 5: drained
                # a snapshot: entries put while it commits stay pending for the next round
                batch = dict(self._pending)
            try:
                self._commit(batch)
            except sqlite3.Error as exc:
                # invariant 4: the batch stays in ``_pending``; retried after a short pause
                self.write_errors += 1
                _log.error("response cache %s: write failed: %s", self.path, exc)
                time.sleep(0.1)
                continue
            with self._cond:
                # invariants 1 and 2: only after the commit, and only the committed value
                for key, value in batch.items():
                    if self._pending.get(key) is value:
                        del self._pending[key]
                self._cond.notify_all()  # wakes ``flush`` waiters (and ``close``'s drain)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every entry handed to ``put`` is committed."""
        with self._cond:
            # while a flush waits the writer skips its gathering window (see _write_loop)
            self._flushers += 1
            self._cond.notify_all()
            try:
                self._cond.wait_for(lambda: not self._pending, timeout=timeout)
            finally:
                self._flushers -= 1

    def __len__(self) -> int:
        self.flush()
        return int(self._conn().execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._writer.join(timeout=30)
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.ProgrammingError):  # closed already
                conn.close()
        self._local = threading.local()


class CachingInterceptor(Interceptor):
    """Answers from the cache on the way up; stores successful answers on the way down."""

    name = "caching"
    config_model = CachingConfig
    changes_results = False
    best_effort = False

    def __init__(self, config: CachingConfig, *, env: ChainEnv) -> None:
        super().__init__(config, env=env)
        self.config: CachingConfig = config
        directory = Path(config.cache_dir) if config.cache_dir else env.output_dir / "cache"
        self.cache = ResponseCache(directory)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.stored = 0

    def on_request(
        self, request: AdapterRequest, ctx: RequestContext
    ) -> AdapterRequest | AdapterResponse:
        data = request.json_or_none()
        if request.method != "POST" or not isinstance(data, dict) or data.get("stream"):
            return request  # only JSON POSTs with a full answer are cacheable
        canonical = request.canonical_body()
        key = cache_key(data, url=ctx.upstream_url, model=data.get("model"), canonical=canonical)
        ctx.state["cache_key"] = key
        if self.config.reuse_cached_responses:
            found = self.cache.get(key)
            if found is not None:
                with self._lock:
                    self.hits += 1
                status, content_type, content = found
                return AdapterResponse(
                    status_code=status,
                    headers={"Content-Type": content_type or "application/json"},
                    _body=content,
                    cache_hit=True,
                )
        with self._lock:
            self.misses += 1
        return request

    def on_response(self, response: AdapterResponse, ctx: RequestContext) -> AdapterResponse:
        key = ctx.state.get("cache_key")
        if (
            key is None
            or not self.config.save_responses
            or response.cache_hit
            or response.stream is not None
            or not 200 <= response.status_code < 300
            or response.json_or_none() is None
        ):
            return response
        content_type = next(
            (v for k, v in response.headers.items() if k.lower() == "content-type"), None
        )
        self.cache.put(key, response.status_code, content_type, response.body)
        with self._lock:
            self.stored += 1
        return response

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "cache_hits": self.hits,
                "cache_misses": self.misses,
                "cache_stored": self.stored,
                "cache_write_errors": self.cache.write_errors,
                "cache_path": str(self.cache.path),
            }

    def close(self) -> None:
        self.cache.close()
