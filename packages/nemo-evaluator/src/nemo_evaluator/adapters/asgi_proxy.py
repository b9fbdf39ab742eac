"""The proxy as an ASGI app: the pipeline's chain on one event loop, any number of clients.

Every path but ``/health`` is forwarded through the pipeline (:meth:`AdapterPipeline.ahandle`):
the interceptors run on the loop's thread and the upstream call is awaited on asyncio
streams, so a request waiting on the upstream holds no thread. A request that asks for a
streamed (SSE) answer goes upstream through the threaded call in the loop's default executor,
whose body the app then passes on chunk by chunk as it arrives, until the answer ends or the
client leaves.

Served by :class:`nvidia_eval_commons.asgi_server.AsgiServer` (uvicorn) in
:class:`~.server.AdapterServer`; any ASGI server can serve it::

    app = create_asgi_app(pipeline)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any, Protocol

from .. import fast_json
from .interceptor import AdapterRequest, AdapterResponse

_log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Any
Send = Any


class AsyncPipeline(Protocol):
    """What the app needs of the pipeline it serves (``AdapterPipeline`` is one)."""

    upstream_url: str

    async def ahandle(self, request: AdapterRequest, *, client_mode: bool) -> AdapterResponse: ...


def _latin1(value: str) -> bytes:
    return value.encode("latin-1", errors="replace")


def request_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI's header pairs under the names the WSGI route gives them (``Content-Type``);
    repeated names are joined with ``", "``; ``Content-Length`` is the transport's."""
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").title()
        if key == "Content-Length":
            continue
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client left before sending all of it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _pump(stream: Iterator[bytes], receive: Receive, send: Send) -> None:
    """Pass a streamed body on as it arrives; stop early when the client leaves.

    The body iterator blocks on the upstream socket, so each chunk is read in the loop's
    default executor. Closing it gives its connection back (or closes it). If this task is
    cancelled while a read is under way (the server stopped), that read ends with the
    upstream's answer or its ``request_timeout``.
    """
    loop = asyncio.get_running_loop()
    gone = asyncio.ensure_future(receive())  # the client's http.disconnect, whenever it comes
    try:
        while not gone.done():
            try:
                chunk = await loop.run_in_executor(None, next, stream, b"")
            except Exception as exc:  # reset, cut at its deadline, not HTTP any more
                # no final chunk: the client sees the answer cut off, as it was
                _log.warning(
                    "a streamed answer broke off upstream: %s: %s", type(exc).__name__, exc
                )
                return
            if not chunk:
                break
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        gone.cancel()
        close = getattr(stream, "close", None)
        if close is not None:
            with contextlib.suppress(ValueError):  # a read still running in the executor
                await loop.run_in_executor(None, close)


class AsgiProxy:
    """The ASGI app; see the module docstring."""

    def __init__(self, pipeline: AsyncPipeline) -> None:
        self.pipeline = pipeline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan and websockets: nothing to do
            return
        path = scope["path"]
        if path == "/health":
            await self._health(scope, send)
            return
        body = await _read_body(receive)
        if body is None:  # nothing to answer, and half a request must not go upstream
            return
        raw_path = scope.get("raw_path")
        request = AdapterRequest(
            method=scope["method"],
            # as the client wrote it: a percent-encoded name goes upstream unchanged
            path=raw_path.decode("latin-1") if raw_path else path,
            query=scope["query_string"].decode("latin-1"),
            headers=request_headers(scope["headers"]),
            _body=body,
        )
        response = await self.pipeline.ahandle(request, client_mode=False)
        headers = [(_latin1(k), _latin1(v)) for k, v in response.proxy_headers()]
        start = {"type": "http.response.start", "status": response.status_code}
        if response.stream is not None:  # no Content-Length: the answer goes out chunked
            await send({**start, "headers": headers})
            await _pump(response.stream, receive, send)
            return
        content = response.body
        headers.append((b"content-length", str(len(content)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _health(self, scope: Scope, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            status, body = 405, fast_json.dumps({"error": "use GET /health"})
            extra = [(b"allow", b"GET, HEAD")]
        else:
            status, body = (
                200,
                fast_json.dumps({"status": "ok", "upstream": self.pipeline.upstream_url}),
            )
            extra = []
        headers = [(b"content-type", b"application/json"), *extra]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )


def create_asgi_app(pipeline: AsyncPipeline) -> AsgiProxy:
    """The ASGI app of the proxy (usable with any ASGI server)."""
    return AsgiProxy(pipeline)


__all__ = ["AsgiProxy", "create_asgi_app", "request_headers"]
