"""Response logging: the first ``max_responses`` answers in ``responses.jsonl``, and with
``log_failed_requests`` every failed request with its answer in ``failed_requests.jsonl``,
whatever the limit. A failure is an HTTP status of 400 or more, or a body that is not JSON.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from nvidia_eval_commons.api._strict import StrictModel

from ..interceptor import AdapterResponse, ChainEnv, Interceptor, RequestContext
from ..log_files import JsonlWriter, body_for_log, loggable_headers

LOG_FILE = "responses.jsonl"
FAILED_FILE = "failed_requests.jsonl"


class ResponseLoggingConfig(StrictModel):
    """Options of the ``response_logging`` interceptor."""

    max_responses: int | None = Field(default=5, ge=0)
    """How many answers to log; 0 logs none, ``None`` logs all."""
    log_failed_requests: bool = False
    """Log every failed request and its answer to ``failed_requests.jsonl``."""


class ResponseLoggingInterceptor(Interceptor):
    """Writes answers (as they are at this point of the chain) to JSON lines files."""

    name = "response_logging"
    config_model = ResponseLoggingConfig
    changes_results = False

    def __init__(self, config: ResponseLoggingConfig, *, env: ChainEnv) -> None:
        super().__init__(config, env=env)
        self.config: ResponseLoggingConfig = config
        self.writer = JsonlWriter(env.output_dir / LOG_FILE, limit=config.max_responses)
        self.failed = JsonlWriter(env.output_dir / FAILED_FILE, limit=None)

    def _record(self, response: AdapterResponse, ctx: RequestContext) -> dict[str, Any]:
        streamed = response.stream is not None
        return {
            "time": time.time(),
            "request_id": ctx.request_id,
            "url": ctx.upstream_url,
            "status": response.status_code,
            "cache_hit": response.cache_hit,
            "attempts": response.attempts,
            "latency_s": response.latency_s,
            "headers": loggable_headers(response.headers),
            "body": "<streamed>"
            if streamed
            else body_for_log(response.body, response.json_or_none()),
        }

    def on_response(self, response: AdapterResponse, ctx: RequestContext) -> AdapterResponse:
        record: dict[str, Any] | None = None
        if self.writer.wants_more():
            record = self._record(response, ctx)
            self.writer.write(record)
        if self.config.log_failed_requests and (
            response.status_code >= 400
            or (response.stream is None and response.json_or_none() is None)
        ):
            record = record or self._record(response, ctx)
            req = ctx.request
            self.failed.write(
                {
                    **record,
                    "request": None
                    if req is None
                    else {
                        "method": req.method,
                        "path": req.path,
                        "headers": loggable_headers(req.headers),
                        "body": body_for_log(req.body, req.json_or_none()),
                    },
                }
            )
        return response

    def stats(self) -> dict[str, int]:
        return {"logged_responses": self.writer.written, "logged_failures": self.failed.written}

    def close(self) -> None:
        self.writer.close()
        self.failed.close()
