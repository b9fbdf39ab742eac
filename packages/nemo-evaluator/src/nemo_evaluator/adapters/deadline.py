"""Deadlines for whole HTTP attempts: connect, send and read together, not per socket read.

A socket timeout bounds each ``recv``; an upstream that trickles a valid answer one byte
at a time never trips it. Here one watcher thread keeps the deadlines of the attempts in
flight (a heap) and, when one passes, shuts the attempt's socket down, which ends the blocked
read at once. A connection (anything with a ``sock``, e.g. an ``http.client`` connection) is
put under the attempt's watch before its request is sent::

    watch = Watch(time.monotonic() + 2.0)
    watch_connection(watch, conn)
    conn.request("POST", "/v1/completions", body=b"...")
    data = conn.getresponse().read()    # raises once the 2 s are over
    watch.cancel()
    watch.expired                       # True when the deadline ended it

A watch covers one attempt; a connection is never shut down after its watch was cancelled.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Any


class Watch:
    """One attempt's deadline; ``cancel`` when the attempt is over."""

    __slots__ = ("_conn", "deadline", "done", "expired")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self.done = False
        self._conn: Any = None

    def cancel(self) -> None:
        with _WATCHER.lock:
            self.done = True
            self._conn = None

    def _fire(self) -> None:  # under the watcher's lock
        if self.done:
            return
        self.done = self.expired = True
        sock = getattr(self._conn, "sock", None)
        self._conn = None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


_MIN_COMPACT = 1024


class _Watcher:
    """One daemon thread that fires the watches whose deadline passed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._wake = threading.Condition(self.lock)
        self._heap: list[tuple[float, int, Watch]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._compact_at = _MIN_COMPACT

    def attach(self, watch: Watch, conn: Any) -> None:
        with self.lock:
            if watch.done:
                return
            watch._conn = conn
            if len(self._heap) >= self._compact_at:
                # Cancelled watches stay in the heap until their deadline (minutes away) would
                # come up; drop them whenever the heap doubled, so it holds about the watches
                # in flight, not every attempt of the last request_timeout seconds.
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
                self._compact_at = max(_MIN_COMPACT, 2 * len(self._heap))
            heapq.heappush(self._heap, (watch.deadline, next(self._seq), watch))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="nemo-eval-deadlines", daemon=True
                )
                self._thread.start()
            if self._heap[0][2] is watch:
                self._wake.notify()

    def _run(self) -> None:
        with self.lock:
            while True:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                left = self._heap[0][0] - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                heapq.heappop(self._heap)[2]._fire()


_WATCHER = _Watcher()


def watch_connection(watch: Watch, conn: Any) -> None:
    """Put ``conn`` (anything with a ``sock``) under ``watch`` before its exchange starts.

    Raises ``TimeoutError`` at once when the deadline has already passed.
    """
    if watch.deadline <= time.monotonic():
        watch.expired = watch.done = True
        raise TimeoutError("deadline passed before the request was sent")
    _WATCHER.attach(watch, conn)


__all__ = ["Watch", "watch_connection"]
