"""System message: replace, prepend to or append to the system prompt of chat requests."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from nvidia_eval_commons.api._strict import StrictModel

from ...errors import ConfigError
from ..interceptor import AdapterRequest, AdapterResponse, ChainEnv, Interceptor, RequestContext


class SystemMessageConfig(StrictModel):
    """Options of the ``system_message`` interceptor."""

    system_message: str = Field(min_length=1)
    """The system prompt to use."""
    mode: Literal["replace", "prepend", "append"] = "replace"
    """``replace`` drops every existing system message and puts this one first; ``prepend``
    and ``append`` join it before / after the existing one (separated by ``separator``)."""
    separator: str = "\n"
    """Put between the given and the existing system prompt in prepend/append mode."""


class SystemMessageInterceptor(Interceptor):
    """Sets the system message of chat requests (requests with a ``messages`` list)."""

    name = "system_message"
    config_model = SystemMessageConfig
    best_effort = False

    def __init__(self, config: SystemMessageConfig, *, env: ChainEnv) -> None:
        super().__init__(config, env=env)
        if env.endpoint_type == "completions":
            raise ConfigError(
                "system_message only works with chat endpoints, but the endpoint "
                f"{env.upstream_url} is a completions endpoint; remove the system message "
                "or point the adapter at a /v1/chat/completions URL"
            )
        self.config: SystemMessageConfig = config

    def _merged(self, messages: list[Any]) -> list[Any]:
        cfg = self.config
        system = [m for m in messages if isinstance(m, dict) and m.get("role") == "system"]
        rest = [m for m in messages if not (isinstance(m, dict) and m.get("role") == "system")]
        if cfg.mode == "replace" or not system:
            content = cfg.system_message
        else:
            existing = cfg.separator.join(str(m.get("content") or "") for m in system)
            if cfg.mode == "prepend":
                content = f"{cfg.system_message}{cfg.separator}{existing}"
            else:
                content = f"{existing}{cfg.separator}{cfg.system_message}"
        return [{"role": "system", "content": content}, *rest]

    def on_request(
        self, request: AdapterRequest, ctx: RequestContext
    ) -> AdapterRequest | AdapterResponse:
        data = request.json_or_none()
        if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
            return request  # not a chat request (e.g. /v1/models): nothing to do
        data["messages"] = self._merged(data["messages"])
        request.mark_dirty()
        return request
