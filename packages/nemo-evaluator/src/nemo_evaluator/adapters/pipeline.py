"""AdapterPipeline: the interceptor chain plus the upstream call, in client or server mode.

Client mode (the evaluate core)::

    with AdapterPipeline.from_config(adapter_cfg, upstream_url=url, output_dir=out) as p:
        response = p.send({"model": "m", "messages": [...]})
        p.sample_finished()

Server mode (any client: lm-eval, curl, the openai SDK), on an event loop (uvicorn) or on
waitress's threads (the Flask app)::

    with AdapterPipeline.from_config(...) as p, p.serve() as server:
        openai.OpenAI(base_url=server.url + "/v1", api_key="...")

Files written under ``output_dir`` (names are fixed): ``requests.jsonl``, ``responses.jsonl``,
``failed_requests.jsonl``, ``response_stats.json``, ``reasoning_stats.json``,
``progress.json``, ``adapter_stats.json`` and the cache under ``<output_dir>/cache``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nvidia_eval_commons.api.adapter import AdapterConfig
from nvidia_eval_commons.openai_url import base_url

from ..errors import ConfigError
from . import switch_interval
from .chain import Chain, build_interceptors, specs_from_config
from .interceptor import AdapterRequest, AdapterResponse, ChainEnv, Interceptor, RequestContext
from .log_files import write_json_atomic
from .upstream import UpstreamCall, UpstreamConfig, error_response

if TYPE_CHECKING:
    from .async_upstream import AsyncUpstreamCall
    from .server import AdapterServer

STATS_FILE = "adapter_stats.json"
_log = logging.getLogger(__name__)


class AdapterPipeline:
    """The chain of interceptors in front of one upstream endpoint; see the module docstring."""

    def __init__(
        self,
        interceptors: list[Interceptor],
        upstream: UpstreamCall,
        *,
        env: ChainEnv,
    ) -> None:
        self.interceptors = interceptors
        self.upstream = upstream
        self.env = env
        self.upstream_url = env.upstream_url
        self.base_url = base_url(env.upstream_url)
        self.output_dir = env.output_dir
        self.chain = Chain(interceptors, upstream)
        self._ids = itertools.count(1)
        self._closed = False
        self.counters = env.counters
        # one per event loop (the evaluate core's, the server's): a pool belongs to its loop
        self._aupstreams: dict[asyncio.AbstractEventLoop, AsyncUpstreamCall] = {}
        # many request threads wait on sockets: hand the GIL over sooner while this is open
        switch_interval.acquire()

    @classmethod
    def from_config(
        cls,
        adapter_cfg: AdapterConfig | None,
        *,
        upstream_url: str,
        output_dir: str | Path,
        endpoint_type: str = "chat",
        api_key: str | None = None,
        max_retries: int = 5,
        request_timeout: float = 300.0,
        sample_timeout: float | None = None,
        upstream_config: UpstreamConfig | None = None,
    ) -> AdapterPipeline:
        """Validate the config and build the chain (a bad config raises ``ConfigError`` here).

        ``upstream_config`` sets every option of the upstream call (backoff, pool size...);
        when given, ``max_retries``, ``request_timeout`` and ``sample_timeout`` are taken
        from it.
        """
        if not re.match(r"^https?://[^/\s]+", upstream_url or ""):
            raise ConfigError(
                f"upstream_url {upstream_url!r} must start with http:// or https:// and a host"
            )
        if endpoint_type not in ("chat", "completions"):
            raise ConfigError(
                f"endpoint_type must be 'chat' or 'completions', got {endpoint_type!r}"
            )
        if adapter_cfg is not None and not isinstance(adapter_cfg, AdapterConfig):
            adapter_cfg = AdapterConfig.model_validate(adapter_cfg)
        upstream_cfg = upstream_config or UpstreamConfig(
            max_retries=max_retries, request_timeout=request_timeout, sample_timeout=sample_timeout
        )
        out = Path(output_dir)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create output_dir {out}: {exc}") from exc
        env = ChainEnv(output_dir=out, upstream_url=upstream_url, endpoint_type=endpoint_type)
        specs = specs_from_config(adapter_cfg, endpoint_type=endpoint_type)
        interceptors = build_interceptors(specs, env=env)
        return cls(interceptors, UpstreamCall(upstream_cfg, api_key=api_key), env=env)

    # -- running requests -------------------------------------------------------------------

    def url_for(self, path: str | None, query: str = "") -> str:
        url = self.upstream_url if path is None else self.base_url + "/" + path.lstrip("/")
        return f"{url}?{query}" if query else url

    def _context(
        self, request: AdapterRequest, *, client_mode: bool, url: str | None
    ) -> RequestContext:
        if self._closed:
            raise ConfigError("this AdapterPipeline is closed; build a new one")
        return RequestContext(
            request_id=str(next(self._ids)),
            upstream_url=url or self.url_for(request.path, request.query),
            client_mode=client_mode,
        )

    def _counted(self, response: AdapterResponse, ctx: RequestContext) -> AdapterResponse:
        response.latency_s = time.perf_counter() - ctx.start
        self.counters.record(
            status_code=response.status_code,
            cache_hit=response.cache_hit,
            attempts=response.attempts,
            latency_s=response.latency_s,
        )
        return response

    def handle(
        self, request: AdapterRequest, *, client_mode: bool, url: str | None = None
    ) -> AdapterResponse:
        """Run one request through the chain; never raises for upstream failures."""
        ctx = self._context(request, client_mode=client_mode, url=url)
        try:
            response = self.chain.run(request, ctx)
        except Exception as exc:  # a non-best-effort interceptor failed (e.g. the cache)
            response = _chain_failure(exc)
        return self._counted(response, ctx)

    def send(
        self,
        payload: dict[str, Any],
        *,
        path: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> AdapterResponse:
        """Client mode: POST ``payload`` through the chain in-process; thread-safe."""
        request = AdapterRequest.from_json(payload, path=path or "", headers=headers)
        return self.handle(request, client_mode=True, url=self.url_for(path))

    async def asend(
        self,
        payload: dict[str, Any],
        *,
        path: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> AdapterResponse:
        """:meth:`send` from a coroutine: the interceptors run on the loop's thread and the
        upstream call is awaited, so many requests wait without a thread each.

        The loop's HTTP session is opened when a request first goes upstream (a run answered
        wholly from the cache never opens one); await :meth:`aclose` on the same loop when
        done.
        """
        request = AdapterRequest.from_json(payload, path=path or "", headers=headers)
        return await self.ahandle(request, client_mode=True, url=self.url_for(path))

    async def ahandle(
        self, request: AdapterRequest, *, client_mode: bool, url: str | None = None
    ) -> AdapterResponse:
        """:meth:`handle` on an event loop (the interceptors on its thread, the upstream call
        awaited); never raises for upstream failures."""
        ctx = self._context(request, client_mode=client_mode, url=url)
        try:
            response = await self.chain.arun(request, ctx, self._call_upstream)
        except Exception as exc:
            response = _chain_failure(exc)
        return self._counted(response, ctx)

    async def _call_upstream(self, request: AdapterRequest, ctx: RequestContext) -> AdapterResponse:
        if not ctx.client_mode and request.is_stream:
            # a streamed answer is read by the threaded call, whose body iterator the server
            # passes on: in the loop's default executor, as the iterator blocks
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, self.upstream, request, ctx)
        return await self._async_upstream()(request, ctx)

    def _async_upstream(self) -> AsyncUpstreamCall:
        loop = asyncio.get_running_loop()
        current = self._aupstreams.get(loop)
        if current is not None:
            return current
        from .async_upstream import AsyncUpstreamCall  # imported when first needed

        current = self._aupstreams[loop] = AsyncUpstreamCall(
            self.upstream.config, auth_header=self.upstream.auth_header
        )
        return current

    async def aclose(self) -> None:
        """Close the HTTP session :meth:`asend` or :meth:`ahandle` opened on the running loop
        (if any)."""
        current = self._aupstreams.pop(asyncio.get_running_loop(), None)
        if current is not None:
            await current.close()

    @property
    def request_timeout(self) -> float:
        """Seconds one upstream attempt may take (the server's channel timeout follows it)."""
        return float(self.upstream.config.request_timeout)

    def serve(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        threads: int = 16,
        engine: str = "asyncio",
    ) -> AdapterServer:
        """Server mode: the same chain behind an HTTP server on ``host``; started (see
        :class:`~.server.AdapterServer` for ``engine`` and ``threads``)."""
        from .server import AdapterServer

        return AdapterServer(self, host=host, port=port, threads=threads, engine=engine).start()

    def sample_finished(self, n: int = 1) -> None:
        """Called by the evaluate core once per finished sample (feeds progress tracking)."""
        for ic in self.interceptors:
            hook = getattr(ic, "sample_finished", None)
            if hook is not None:
                hook(n)

    # -- reporting --------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        c = self.counters.snapshot()
        out: dict[str, Any] = {
            "requests": c.requests,
            "cache_hits": c.cache_hits,
            "cache_misses": c.requests - c.cache_hits,
            "upstream_attempts": c.upstream_attempts,
            "retries": max(0, c.upstream_attempts - (c.requests - c.cache_hits)),
            "errors": c.errors,
            "status_codes": c.status_codes,
            "mean_latency_s": c.mean_latency_s,
        }
        for ic in self.interceptors:
            extra = ic.stats()
            if extra:
                out.setdefault("interceptors", {})[ic.name] = extra
        return out

    def close(self) -> None:
        """Flush logs and write stats summaries under output_dir; idempotent."""
        if self._closed:
            return
        self._closed = True
        switch_interval.release()
        for ic in self.interceptors:
            try:
                ic.close()
            except Exception as exc:
                _log.warning("closing interceptor %s failed: %s", ic.name, exc)
        self.upstream.close()
        write_json_atomic(self.output_dir / STATS_FILE, self.stats())

    def __enter__(self) -> AdapterPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _chain_failure(exc: Exception) -> AdapterResponse:
    """The 500 a caller gets when a non-best-effort interceptor (the cache) failed."""
    _log.error("adapter chain failed: %s", exc)
    response = error_response(
        500,
        f"adapter failed: {type(exc).__name__}: {exc}",
        upstream_status=None,
        upstream_body="",
    )
    response.headers["X-Adapter-Error"] = "adapter"
    return response
