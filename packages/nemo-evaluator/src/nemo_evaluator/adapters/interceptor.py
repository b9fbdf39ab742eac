"""The request, response and context objects an interceptor sees, and the interceptor base.

An interceptor is a class with a ``name``, a pydantic ``config_model`` and one or both hooks:

* ``on_request(request, ctx)`` returns the (possibly changed) request, or an
  :class:`AdapterResponse` to answer at once (a cache hit) without going further up the chain;
* ``on_response(response, ctx)`` returns the (possibly changed) response.

Bodies are kept as bytes and parsed at most once: ``json()`` caches the parsed value and
``set_json()`` marks the body dirty so it is serialised again only when it is sent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from .. import fast_json
from .request_counters import RequestCounters

_UNSET: Any = object()


def dumps(obj: Any) -> bytes:
    """Canonical JSON bytes: compact UTF-8 with sorted keys. What goes on the wire, and what
    the cache key is computed from, so that one encoding serves both (``json``'s bytes,
    made by orjson where it writes the same: see :func:`nemo_evaluator.fast_json.canonical`)."""
    return fast_json.canonical(obj)


class _JsonBody:
    """Shared lazy JSON handling of a request or response body."""

    _body: bytes
    _json: Any
    _dirty: bool

    def json(self) -> Any:
        """The parsed body; raises ``ValueError`` when it is not JSON."""
        if self._json is _UNSET:
            self._json = fast_json.loads(self._body)
        return self._json

    def json_or_none(self) -> Any:
        """The parsed body, or ``None`` when it is empty or not JSON."""
        try:
            return self.json()
        except ValueError:
            return None

    def set_json(self, obj: Any) -> None:
        """Replace the body with ``obj`` (serialised lazily, once)."""
        self._json = obj
        self._dirty = True

    def mark_dirty(self) -> None:
        """Say that the object returned by ``json()`` was changed in place."""
        self._dirty = True

    _canonical = False  # the bytes were made here by ``dumps`` (not received as they are)

    @property
    def body(self) -> bytes:
        if self._dirty:
            self._body = dumps(self._json)
            self._dirty = False
            self._canonical = True
        return self._body

    def canonical_body(self) -> bytes:
        """The parsed body in :func:`dumps`'s encoding: the body itself when it was encoded
        here (encoding it once serves the wire and the cache key), else a fresh encoding."""
        if self._dirty or self._canonical:
            return self.body
        return dumps(self.json())


@dataclass(eq=False)
class AdapterRequest(_JsonBody):
    """A request on its way up: method, path below the upstream base, query, headers, body."""

    method: str = "POST"
    path: str = "/"
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    _body: bytes = b""
    _json: Any = _UNSET
    _dirty: bool = False

    @classmethod
    def from_json(
        cls, payload: Any, *, path: str, headers: dict[str, str] | None = None
    ) -> AdapterRequest:
        req = cls(method="POST", path=path, headers=dict(headers or {}))
        req.set_json(payload)
        return req

    @property
    def is_stream(self) -> bool:
        """True when the body asks for a streamed (SSE) answer."""
        data = self.json_or_none()
        return isinstance(data, dict) and bool(data.get("stream"))


@dataclass(eq=False)
class AdapterResponse(_JsonBody):
    """What a caller gets back, in client mode and inside the server.

    ``stream`` is set instead of a body for a streamed answer passed through unbuffered
    (server mode); interceptors that need the body skip such responses.
    """

    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    _body: bytes = b""
    cache_hit: bool = False
    """True when served from the cache (never reached upstream)."""
    latency_s: float = 0.0
    """Wall time of this call including retries."""
    attempts: int = 0
    """Upstream attempts made (0 on a cache hit)."""
    stream: Iterator[bytes] | None = None
    _json: Any = _UNSET
    _dirty: bool = False

    @classmethod
    def from_json(cls, obj: Any, *, status_code: int = 200) -> AdapterResponse:
        resp = cls(status_code=status_code, headers={"Content-Type": "application/json"})
        resp.set_json(obj)
        return resp

    @property
    def content(self) -> bytes:
        """The body bytes (empty for a stream)."""
        return self.body

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    def proxy_headers(self) -> list[tuple[str, str]]:
        """The headers a client of the proxy gets: the answer's own, ``X-Adapter-Cache: hit``
        on a cache hit and ``X-Adapter-Attempts`` after a retry (no ``Content-Length``)."""
        out = list(self.headers.items())
        if self.cache_hit:
            out.append(("X-Adapter-Cache", "hit"))
        if self.attempts > 1:
            out.append(("X-Adapter-Attempts", str(self.attempts)))
        return out

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass(eq=False)
class RequestContext:
    """Per-request state shared by the interceptors of one call."""

    request_id: str
    upstream_url: str
    """The full URL this request goes to."""
    start: float = field(default_factory=time.perf_counter)
    request: AdapterRequest | None = None
    """The request as it left the request chain (set before the response chain runs)."""
    client_mode: bool = False
    state: dict[str, Any] = field(default_factory=dict)
    """Scratch space interceptors use to pass values from their request to response hook."""


@dataclass(frozen=True)
class ChainEnv:
    """What every interceptor may know about the chain it sits in."""

    output_dir: Path
    upstream_url: str
    """The full endpoint URL given at start-up."""
    endpoint_type: str = "chat"
    counters: RequestCounters = field(default_factory=RequestCounters)
    """The pipeline's counts of its final answers (read them; the pipeline records)."""


class Interceptor:
    """Base of all interceptors; subclasses override ``on_request`` and/or ``on_response``."""

    name: ClassVar[str] = ""
    config_model: ClassVar[type[BaseModel]]
    best_effort: ClassVar[bool] = True
    """Errors of a best-effort interceptor are logged and never break a request."""
    changes_results: ClassVar[bool] = True
    """False for an interceptor that only observes (logging, stats, progress) or replays (the
    cache): its settings may change between a run and its resume. True, the safe default for
    third-party interceptors, puts its name and config among the settings a resume must match."""

    def __init__(self, config: Any, *, env: ChainEnv) -> None:
        self.config = config
        self.env = env

    def on_request(
        self, request: AdapterRequest, ctx: RequestContext
    ) -> AdapterRequest | AdapterResponse:
        return request

    def on_response(self, response: AdapterResponse, ctx: RequestContext) -> AdapterResponse:
        return response

    def stats(self) -> dict[str, Any] | None:
        """Counters for ``adapter_stats.json``; ``None`` when there is nothing to report."""
        return None

    def close(self) -> None:
        """Flush and write summaries; called once when the pipeline closes."""

    @classmethod
    def handles_requests(cls) -> bool:
        return cls.on_request is not Interceptor.on_request

    @classmethod
    def handles_responses(cls) -> bool:
        return cls.on_response is not Interceptor.on_response
