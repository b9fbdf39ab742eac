"""Request logging: the first ``max_requests`` requests as JSON lines in ``requests.jsonl``.

Secret headers (``Authorization``, API keys, cookies) are masked; they still go upstream.
"""

from __future__ import annotations

import time

from pydantic import Field

from nvidia_eval_commons.api._strict import StrictModel

from ..interceptor import (
    AdapterRequest,
    AdapterResponse,
    ChainEnv,
    Interceptor,
    RequestContext,
)
from ..log_files import JsonlWriter, body_for_log, loggable_headers

LOG_FILE = "requests.jsonl"


class RequestLoggingConfig(StrictModel):
    """Options of the ``request_logging`` interceptor."""

    max_requests: int | None = Field(default=5, ge=0)
    """How many requests to log; 0 logs none, ``None`` logs all."""
    log_file: str = LOG_FILE
    """File name under the output directory."""


class RequestLoggingInterceptor(Interceptor):
    """Writes each request (as it is at this point of the chain) to a JSON lines file."""

    name = "request_logging"
    config_model = RequestLoggingConfig
    changes_results = False

    def __init__(self, config: RequestLoggingConfig, *, env: ChainEnv) -> None:
        super().__init__(config, env=env)
        self.writer = JsonlWriter(env.output_dir / config.log_file, limit=config.max_requests)

    def on_request(
        self, request: AdapterRequest, ctx: RequestContext
    ) -> AdapterRequest | AdapterResponse:
        if self.writer.wants_more():
            self.writer.write(
                {
                    "time": time.time(),
                    "request_id": ctx.request_id,
                    "method": request.method,
                    "path": request.path,
                    "query": request.query,
                    "url": ctx.upstream_url,
                    "headers": loggable_headers(request.headers),
                    "body": body_for_log(request.body, request.json_or_none()),
                }
            )
        return request

    def stats(self) -> dict[str, int]:
        return {"logged_requests": self.writer.written}

    def close(self) -> None:
        self.writer.close()
