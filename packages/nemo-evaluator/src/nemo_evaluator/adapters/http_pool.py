"""Keep-alive pools of ``http.client`` connections for the threaded upstream call.

The upstream call sends one request and reads one answer per attempt; it needs neither
urllib3's URL handling nor its retries (tenacity does those), and the standard library's
``http.client`` costs about half as much CPU per round trip. :class:`HttpPool` keeps idle
connections per ``(scheme, host, port)`` and is thread-safe::

    pool = HttpPool(maxsize=128)
    conn = pool.get("http://127.0.0.1:8080/v1/chat/completions", connect_timeout=10.0)
    conn.conn.request("POST", conn.target, body=b"{}", headers={...})
    resp = conn.conn.getresponse()
    body = resp.read()
    pool.put(conn, resp)            # back to the pool unless the answer closes it

A connection taken from the pool is checked first: one the server closed while it sat idle
(readable with nothing to read, or an error) is dropped and the next one is tried.
"""

from __future__ import annotations

import functools
import http.client
import select
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

_Key = tuple[str, str, int]


@dataclass(frozen=True)
class UrlTarget:
    """Where a request for a URL goes: the pool key, the request target, the Host header."""

    key: _Key
    target: str
    """The request target: path and query (``/v1/chat/completions?x=1``)."""
    host: str
    """The Host header: the URL's host and port as written, without user info."""


@functools.lru_cache(maxsize=1024)
def url_target(url: str) -> UrlTarget:
    """``url`` split for sending (the upstream URLs of a run are few: each is split once)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return UrlTarget((scheme, parts.hostname, port), target, parts.netloc.rpartition("@")[2])


@dataclass(eq=False)
class PooledConnection:
    """One connection of a pool and the request target of the URL it was taken for."""

    conn: http.client.HTTPConnection
    key: _Key
    target: str
    reused: bool
    """True when it came from the pool (it may have been closed by the server meanwhile)."""


class _NoDelayHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _NoDelayHTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _is_dropped(conn: http.client.HTTPConnection) -> bool:
    """True when an idle kept-alive connection can no longer be used."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        # an idle connection has nothing to read: readable means EOF (closed) or junk
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class HttpPool:
    """Idle keep-alive connections per host; see the module docstring."""

    def __init__(self, *, maxsize: int = 128, ssl_context: ssl.SSLContext | None = None) -> None:
        self.maxsize = maxsize
        self.ssl_context = ssl_context
        self._lock = threading.Lock()
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._closed = False

    def get(self, url: str, *, connect_timeout: float) -> PooledConnection:
        """An idle connection to ``url``'s host, or a new (not yet connected) one."""
        where = url_target(url)
        while True:
            with self._lock:
                idle = self._idle.get(where.key)
                conn = idle.pop() if idle else None
            if conn is None:
                break
            if _is_dropped(conn):
                conn.close()
                continue
            return PooledConnection(conn, where.key, where.target, reused=True)
        scheme, host, port = where.key
        new: http.client.HTTPConnection
        if scheme == "https":
            new = _NoDelayHTTPSConnection(
                host, port, timeout=connect_timeout, context=self.ssl_context
            )
        else:
            new = _NoDelayHTTPConnection(host, port, timeout=connect_timeout)
        return PooledConnection(new, where.key, where.target, reused=False)

    def put(self, pooled: PooledConnection, resp: http.client.HTTPResponse | None) -> None:
        """Give the connection back after its answer was read to the end, else close it."""
        conn = pooled.conn
        reusable = (
            resp is not None and resp.isclosed() and not resp.will_close and conn.sock is not None
        )
        if reusable:
            with self._lock:
                idle = self._idle.setdefault(pooled.key, [])
                if not self._closed and len(idle) < self.maxsize:
                    idle.append(conn)
                    return
        conn.close()

    def discard(self, pooled: PooledConnection) -> None:
        """Close a connection whose exchange failed or was cut off."""
        pooled.conn.close()

    def clear(self) -> None:
        """Close every idle connection; connections in use close when given back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()


__all__ = ["HttpPool", "PooledConnection", "UrlTarget", "url_target"]
