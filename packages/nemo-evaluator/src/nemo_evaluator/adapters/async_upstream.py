"""The upstream call on an event loop: what :class:`UpstreamCall` does, awaited.

The evaluate core runs its documents as coroutines on one thread (see
``nemo_evaluator.core.runner``), so hundreds of requests can wait on the upstream without a
thread each. This call keeps every rule of the threaded one (the same
:class:`UpstreamConfig`, tenacity retry policy, ``Retry-After`` handling, headers and final
error bodies, ``request_timeout`` as the deadline of one whole attempt and ``sample_timeout``
across all of them; see :mod:`.upstream`) and sends through a keep-alive pool of asyncio
stream connections (:mod:`.async_http`). On an event loop the deadline is plain: the attempt
is a coroutine cancelled when its time is up. Answers are read whole: client mode never
streams. No cookies are kept between requests, as on the threaded path (``http.client``).

A pool belongs to the event loop that created it; :meth:`close` must be awaited on that
loop.
"""

from __future__ import annotations

import asyncio
import time

from tenacity import AsyncRetrying

from .async_http import AsyncHttpPool, HttpProtocolError, within
from .interceptor import AdapterRequest, AdapterResponse, RequestContext
from .upstream import (
    UpstreamConfig,
    _Retryable,
    _TransportError,
    answer_or_retryable,
    attempt_window,
    deadline_error,
    failure_response,
    note_attempts,
    replay_first_attempt,
    retry_policy,
    sample_deadline,
    upstream_headers,
)


class AsyncUpstreamCall:
    """Awaitable upstream call for one event loop; see the module docstring."""

    def __init__(self, config: UpstreamConfig, *, auth_header: str | None = None) -> None:
        self.config = config
        self.auth_header = auth_header
        self.loop = asyncio.get_running_loop()
        self.pool = AsyncHttpPool()
        self._policy = retry_policy(config)

    async def _once(
        self, request: AdapterRequest, url: str, call_deadline: float | None
    ) -> AdapterResponse:
        """One attempt, all of it (connect, send, read) within ``request_timeout``."""
        _, left = attempt_window(self.config, call_deadline)
        try:
            answer = await within(
                self.pool.request(
                    request.method,
                    url,
                    headers=upstream_headers(request, self.auth_header),
                    body=request.body,
                    connect_timeout=min(self.config.connect_timeout, left),
                ),
                left,
            )
        except TimeoutError as exc:
            raise _TransportError(deadline_error(self.config), timeout=True) from exc
        except (OSError, asyncio.IncompleteReadError, HttpProtocolError) as exc:
            # refused, reset, closed or broken mid-body, or not an HTTP answer
            raise _TransportError(exc, timeout=False) from exc
        return answer_or_retryable(answer.status, answer.headers, answer.body)

    async def __call__(self, request: AdapterRequest, ctx: RequestContext) -> AdapterResponse:
        url = ctx.upstream_url
        started = time.perf_counter()
        clock = time.monotonic()  # tenacity's clock
        call_deadline = sample_deadline(self.config)
        # the first attempt runs bare: tenacity's machinery costs more per call than the
        # rest of the chain, and only a failed attempt needs it
        try:
            response = await self._once(request, url, call_deadline)
            response.attempts = 1
        except _Retryable as first:
            response = await self._retry(request, url, call_deadline, first, clock)
        response.latency_s = time.perf_counter() - started
        note_attempts(response)
        return response

    async def _retry(
        self,
        request: AdapterRequest,
        url: str,
        call_deadline: float | None,
        first: _Retryable,
        clock: float,
    ) -> AdapterResponse:
        """The attempts after a failed first one, under the retry policy (tenacity replays
        ``first`` as its attempt 1, from ``clock``: the waits, the attempt budget and
        ``sample_timeout`` are unchanged)."""
        retrying = AsyncRetrying(**self._policy)
        try:
            async for attempt in retrying:
                with attempt:
                    replay_first_attempt(attempt, first, clock)
                    response = await self._once(request, url, call_deadline)
        except _Retryable as exc:
            response = failure_response(exc, url)
        response.attempts = int(retrying.statistics.get("attempt_number", 1))
        return response

    async def close(self) -> None:
        await self.pool.close()
