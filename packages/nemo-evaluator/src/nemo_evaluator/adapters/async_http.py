"""Keep-alive HTTP/1.1 connections on asyncio streams, for the event-loop upstream call.

The event-loop twin of :mod:`.http_pool`. The upstream call sends one request and reads one
whole answer per attempt; it needs no URL handling, redirects, cookies, retries or response
objects of an HTTP client library (tenacity does the retries). aiohttp's client spent about
0.33 ms of CPU per request of the evaluate core on that machinery; this module sends the
request bytes and reads the answer on asyncio's streams for a fraction of it
(``bench/eval_throughput.py``, parallelism 64: 0.85 -> 0.52 ms of CPU per sample)::

    pool = AsyncHttpPool()
    answer = await pool.request("POST", url, headers={...}, body=b"{}", connect_timeout=10)
    answer.status, answer.headers.get("retry-after"), answer.body
    await pool.close()

Answers are read by ``Content-Length``, chunked, or to the end of the connection; interim
``1xx`` answers are skipped; ``Accept-Encoding: identity`` is sent, as ``http.client`` does,
and a gzip or deflate body is decoded anyway. A connection goes back to the pool unless the
answer closes it. One taken from the pool that the server closed while it sat idle fails
before any byte of the answer; the request is then sent once more on a new connection.

A pool belongs to the event loop that opened its connections. The caller bounds the whole
exchange (:func:`within`); a cancelled exchange closes its connection.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
import zlib
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from .http_pool import UrlTarget, url_target

_Key = tuple[str, str, int]
_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
if sys.version_info >= (3, 11):
    _timeout = asyncio.timeout
else:  # pragma: no cover - Python 3.10
    from async_timeout import timeout as _timeout
_T = TypeVar("_T")


async def within(awaitable: Awaitable[_T], seconds: float) -> _T:
    """``await awaitable``, cancelled after ``seconds`` with the built-in ``TimeoutError``
    on every Python.

    A timeout scope (``asyncio.timeout``; on 3.10 the ``async-timeout`` backport, whose
    error is ``asyncio.TimeoutError``, another class there) rather than ``wait_for``: no
    extra task per call, so the request is written before the caller's task yields, and a
    run that opens hundreds of connections at its start pays no task for each.
    """
    try:
        async with _timeout(seconds):
            return await awaitable
    except asyncio.TimeoutError as exc:
        if isinstance(exc, TimeoutError):  # 3.11 and later: the same class
            raise
        raise TimeoutError(f"no answer within {seconds:g} s") from exc


class HttpProtocolError(ValueError):
    """The upstream's bytes are not an HTTP/1.x answer."""


class _Stale(ConnectionError):
    """A pooled connection closed before the answer began."""


class Headers(dict[str, str]):
    """Answer headers under their own names; :meth:`get` ignores case."""

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        if name in self:
            return self[name]
        lower = name.lower()
        return next((v for k, v in self.items() if k.lower() == lower), default)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Headers
    body: bytes


class AsyncHttpPool:
    """Idle connections per ``(scheme, host, port)``; see the module docstring."""

    def __init__(self) -> None:
        self._idle: dict[_Key, list[_Conn]] = {}
        self._ssl: ssl.SSLContext | None = None

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        body: bytes,
        connect_timeout: float,
    ) -> Answer:
        where = self._target(url)
        head = _head(method, where, headers, body)
        while True:
            conn, reused = self._take(where.key), True
            if conn is None:
                conn, reused = await self._connect(where.key, connect_timeout), False
            try:
                answer, keep = await _exchange(conn, head + body, method)
            except _Stale:
                _close(conn)
                if reused:
                    continue  # closed by the server while idle: once more on a new one
                raise
            except BaseException:
                _close(conn)
                raise
            if keep:
                self._idle.setdefault(where.key, []).append(conn)
            else:
                _close(conn)
            return answer

    async def close(self) -> None:
        idle, self._idle = self._idle, {}
        writers = [writer for conns in idle.values() for _, writer in conns]
        for writer in writers:
            writer.close()
        # all together: one by one, a run that ends with hundreds open waits a turn of the
        # loop for each
        results = await asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)
        for res in results:
            if isinstance(res, BaseException) and not isinstance(
                res, (OSError, asyncio.CancelledError)
            ):
                raise res

    @staticmethod
    def _target(url: str) -> UrlTarget:
        try:
            return url_target(url)  # the threaded pool's, split once per URL
        except ValueError as exc:
            raise HttpProtocolError(str(exc)) from None

    def _take(self, key: _Key) -> _Conn | None:
        conns = self._idle.get(key)
        while conns:
            conn = conns.pop()
            if not conn[0].at_eof() and not conn[1].is_closing():
                return conn
            _close(conn)
        return None

    async def _connect(self, key: _Key, timeout: float) -> _Conn:
        scheme, host, port = key
        context = None
        if scheme == "https":
            context = self._ssl = self._ssl or ssl.create_default_context()
        opening = asyncio.open_connection(host, port, ssl=context)
        try:
            return await within(opening, timeout)
        except TimeoutError as exc:
            raise TimeoutError(f"connecting to {host}:{port} took over {timeout:g} s") from exc


def _head(method: str, where: UrlTarget, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {where.target} HTTP/1.1", f"Host: {where.host}"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise HttpProtocolError(f"header {name!r} holds a line break")
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Accept-Encoding: identity")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _exchange(conn: _Conn, data: bytes, method: str) -> tuple[Answer, bool]:
    """Send ``data``; the answer, and whether the connection can carry another request."""
    reader, writer = conn
    try:
        writer.write(data)
        await writer.drain()
        line = await reader.readline()
    except (ConnectionResetError, BrokenPipeError) as exc:
        raise _Stale(str(exc) or type(exc).__name__) from exc
    if not line:
        raise _Stale("the server closed the connection before answering")
    while True:
        version, status = _status(line)
        headers = await _headers(reader)
        if not 100 <= status < 200:
            break
        line = await reader.readline()  # an interim answer (100 Continue): the real one follows
    keep = version == "HTTP/1.1" and "close" not in (headers.get("connection") or "").lower()
    length = headers.get("content-length")
    if method == "HEAD" or status in (204, 304):
        body = b""
    elif "chunked" in (headers.get("transfer-encoding") or "").lower():
        body = await _chunked(reader)
    elif length is not None:
        try:
            body = await reader.readexactly(int(length))
        except ValueError as exc:
            raise HttpProtocolError(f"bad Content-Length {length!r}") from exc
    else:
        body, keep = await reader.read(), False  # to the end of the connection
    return Answer(status, headers, _decoded(body, headers.get("content-encoding"))), keep


def _status(line: bytes) -> tuple[str, int]:
    parts = line.decode("latin-1").split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpProtocolError(f"not an HTTP/1.x status line: {line[:80]!r}")
    return parts[0], int(parts[1])


async def _headers(reader: asyncio.StreamReader) -> Headers:
    headers = Headers()
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n"):
            return headers
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise HttpProtocolError(f"not a header line: {line[:80]!r}")
        name, value = name.strip(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readline()
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise HttpProtocolError(f"bad chunk size line {size_line[:80]!r}") from exc
        if size == 0:
            await _headers(reader)  # trailers, up to the blank line
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)  # the CRLF after each chunk


def _decoded(body: bytes, encoding: str | None) -> bytes:
    encoding = (encoding or "").strip().lower()
    if not body or encoding in ("", "identity"):
        return body
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompress(body, 16 + zlib.MAX_WBITS)
        if encoding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)  # raw deflate, as some send it
    except zlib.error as exc:
        raise HttpProtocolError(f"bad {encoding} body: {exc}") from exc
    raise HttpProtocolError(f"unsupported Content-Encoding {encoding!r}")


def _close(conn: _Conn) -> None:
    conn[1].close()


__all__ = ["Answer", "AsyncHttpPool", "Headers", "HttpProtocolError"]
