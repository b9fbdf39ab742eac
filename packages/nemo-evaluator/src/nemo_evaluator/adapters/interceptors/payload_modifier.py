"""Payload modifier: add, remove and rename request parameters, nested keys included.

Keys are dotted paths into the JSON body: ``extra_body.chat_template_kwargs`` names
``body["extra_body"]["chat_template_kwargs"]``. Order of operations: remove, rename, add.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import Field

from nvidia_eval_commons.api._strict import StrictModel

from ..interceptor import AdapterRequest, AdapterResponse, ChainEnv, Interceptor, RequestContext

_MISSING = object()


class PayloadModifierConfig(StrictModel):
    """Options of the ``payload_modifier`` interceptor."""

    params_to_add: dict[str, Any] = Field(default_factory=dict)
    """Dotted key -> value to set (intermediate objects are created)."""
    params_to_remove: list[str] = Field(default_factory=list)
    """Dotted keys to delete (missing keys are ignored)."""
    params_to_rename: dict[str, str] = Field(default_factory=dict)
    """Dotted old key -> dotted new key (missing keys are ignored)."""


def _split(key: str) -> list[str]:
    return [part for part in key.split(".") if part]


def pop_path(data: dict[str, Any], key: str) -> Any:
    """Remove and return the value at dotted ``key``; a sentinel when it is missing."""
    parts = _split(key)
    node: Any = data
    for part in parts[:-1]:
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    if not isinstance(node, dict) or parts[-1] not in node:
        return _MISSING
    return node.pop(parts[-1])


def set_path(data: dict[str, Any], key: str, value: Any) -> None:
    """Set dotted ``key`` to ``value``, creating intermediate objects."""
    parts = _split(key)
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


class PayloadModifierInterceptor(Interceptor):
    """Edits the JSON body of every request that has one."""

    name = "payload_modifier"
    config_model = PayloadModifierConfig
    best_effort = False

    def __init__(self, config: PayloadModifierConfig, *, env: ChainEnv) -> None:
        super().__init__(config, env=env)
        self.config: PayloadModifierConfig = config

    def on_request(
        self, request: AdapterRequest, ctx: RequestContext
    ) -> AdapterRequest | AdapterResponse:
        data = request.json_or_none()
        if not isinstance(data, dict):
            return request
        cfg = self.config
        for key in cfg.params_to_remove:
            pop_path(data, key)
        for old, new in cfg.params_to_rename.items():
            value = pop_path(data, old)
            if value is not _MISSING:
                set_path(data, new, value)
        for key, value in cfg.params_to_add.items():
            set_path(data, key, copy.deepcopy(value))
        request.mark_dirty()
        return request
