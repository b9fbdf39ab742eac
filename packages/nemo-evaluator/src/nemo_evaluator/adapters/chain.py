"""Building the interceptor chain from an AdapterConfig, and running it.

Requests pass the interceptors in list order, responses in reverse order; the upstream call
is the last link. When a request interceptor answers itself (a cache hit), only the
interceptors before it see the response, like layers of an onion.

The flat fields of ``AdapterConfig`` translate to this ordered list (response order is the
reverse)::

    response_stats      always; sees every final answer, cache hits included
    progress_tracking   use_progress_tracking
    system_message      custom_system_prompt (chat endpoints; see below)
    reasoning           use_reasoning: strips reasoning from the answer the client gets
    request_logging     use_request_logging and max_logged_requests != 0
    response_logging    use_response_logging and max_logged_responses != 0, or log_failed_requests
    caching             use_caching: stores the raw upstream answer
    (upstream call)

``custom_system_prompt`` is documented as "only for chat endpoints": with a completions
endpoint the flat field is left out of the chain with a warning (the seeds pair it with one),
while an explicit ``system_message`` entry is a start-up error there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from nvidia_eval_commons.api.adapter import AdapterConfig, InterceptorSpec
from nvidia_eval_commons.errors import ConfigError as CommonsConfigError

from ..errors import ConfigError
from .interceptor import AdapterRequest, AdapterResponse, ChainEnv, Interceptor, RequestContext
from .registry import get_interceptor

_log = logging.getLogger(__name__)

Upstream = Callable[[AdapterRequest, RequestContext], AdapterResponse]
AsyncUpstream = Callable[[AdapterRequest, RequestContext], Awaitable[AdapterResponse]]


def specs_from_config(cfg: AdapterConfig | None, *, endpoint_type: str) -> list[InterceptorSpec]:
    """The ordered interceptor list an AdapterConfig describes (flat fields or explicit)."""
    if cfg is None:
        return []
    if cfg.interceptors is not None:
        return [spec for spec in cfg.interceptors if spec.enabled]
    specs = [InterceptorSpec(name="response_stats")]
    if cfg.use_progress_tracking:
        specs.append(
            InterceptorSpec(
                name="progress_tracking",
                config={
                    "progress_tracking_url": cfg.progress_tracking_url,
                    "progress_tracking_interval": cfg.progress_tracking_interval,
                },
            )
        )
    if cfg.custom_system_prompt is not None:
        if endpoint_type == "completions":
            _log.warning(
                "custom_system_prompt is ignored: it only applies to chat endpoints and this "
                "endpoint is a completions one"
            )
        else:
            specs.append(
                InterceptorSpec(
                    name="system_message",
                    config={"system_message": cfg.custom_system_prompt, "mode": "replace"},
                )
            )
    if cfg.use_reasoning:
        specs.append(
            InterceptorSpec(
                name="reasoning",
                config={
                    "start_reasoning_token": cfg.start_reasoning_token,
                    "end_reasoning_token": cfg.end_reasoning_token,
                },
            )
        )
    if cfg.use_request_logging and cfg.max_logged_requests != 0:
        specs.append(
            InterceptorSpec(
                name="request_logging", config={"max_requests": cfg.max_logged_requests}
            )
        )
    log_responses = cfg.use_response_logging and cfg.max_logged_responses != 0
    if log_responses or cfg.log_failed_requests:
        specs.append(
            InterceptorSpec(
                name="response_logging",
                config={
                    "max_responses": cfg.max_logged_responses if log_responses else 0,
                    "log_failed_requests": cfg.log_failed_requests,
                },
            )
        )
    if cfg.use_caching:
        specs.append(InterceptorSpec(name="caching", config={"cache_dir": cfg.caching_dir}))
    return specs


def build_interceptors(specs: list[InterceptorSpec], *, env: ChainEnv) -> list[Interceptor]:
    """Validate each entry against its interceptor's config model and build it."""
    built: list[Interceptor] = []
    try:
        for i, spec in enumerate(specs):
            cls = get_interceptor(spec.name)
            where = f"interceptors[{i}] '{spec.name}'"
            try:
                config = cls.config_model.model_validate(spec.config)
            except (CommonsConfigError, ValidationError) as exc:
                raise ConfigError(f"{where}: {exc}".replace("\n", " ")) from None
            try:
                built.append(cls(config, env=env))
            except ConfigError:
                raise
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{where} cannot start: {exc}") from exc
    except BaseException:
        for ic in built:
            ic.close()
        raise
    return built


class Chain:
    """Runs requests through interceptors and the upstream call; thread-safe if they are."""

    def __init__(self, interceptors: list[Interceptor], upstream: Upstream) -> None:
        self.interceptors = interceptors
        self.upstream = upstream
        self._req = [
            (i, ic, ic.best_effort) for i, ic in enumerate(interceptors) if ic.handles_requests()
        ]
        self._resp = [
            (i, ic, ic.best_effort)
            for i, ic in reversed(list(enumerate(interceptors)))
            if ic.handles_responses()
        ]

    def run(self, request: AdapterRequest, ctx: RequestContext) -> AdapterResponse:
        response, stop = self.run_requests(request, ctx)
        if response is None:
            assert ctx.request is not None
            response = self.upstream(ctx.request, ctx)
        return self.run_responses(response, ctx, stop=stop)

    async def arun(
        self, request: AdapterRequest, ctx: RequestContext, upstream: AsyncUpstream
    ) -> AdapterResponse:
        """:meth:`run` with an awaitable upstream call (the interceptors stay synchronous)."""
        response, stop = self.run_requests(request, ctx)
        if response is None:
            assert ctx.request is not None
            response = await upstream(ctx.request, ctx)
        return self.run_responses(response, ctx, stop=stop)

    def run_requests(
        self, request: AdapterRequest, ctx: RequestContext
    ) -> tuple[AdapterResponse | None, int]:
        """The request hooks in order: a short-circuit response (or None) and where it stopped.

        The request as it leaves the chain is ``ctx.request``.
        """
        stop = len(self.interceptors)
        response: AdapterResponse | None = None
        for i, ic, best_effort in self._req:
            try:
                out: Any = ic.on_request(request, ctx)
            except Exception as exc:
                if not best_effort:
                    raise
                _log.warning("interceptor %s failed on a request: %s", ic.name, exc)
                continue
            if isinstance(out, AdapterResponse):
                response, stop = out, i
                break
            request = out
        ctx.request = request
        return response, stop

    def run_responses(
        self, response: AdapterResponse, ctx: RequestContext, *, stop: int
    ) -> AdapterResponse:
        """The response hooks in reverse order, from just below ``stop``."""
        for i, ic, best_effort in self._resp:
            if i >= stop:
                continue
            try:
                response = ic.on_response(response, ctx)
            except Exception as exc:
                if not best_effort:
                    raise
                _log.warning("interceptor %s failed on a response: %s", ic.name, exc)
        return response
