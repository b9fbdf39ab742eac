"""Payload modifier: add, remove, rename nested keys."""

from __future__ import annotations

from adapter_support import chat_payload

from nemo_evaluator.adapters.adapter_config import AdapterConfig, InterceptorSpec


def test_add_remove_rename_nested(upstream, make_pipeline) -> None:
    cfg = AdapterConfig(
        interceptors=[
            InterceptorSpec(
                name="payload_modifier",
                config={
                    "params_to_add": {"extra_body.chat_template_kwargs": {"thinking": False}},
                    "params_to_remove": ["temperature", "missing.key"],
                    "params_to_rename": {"max_tokens": "max_completion_tokens", "a.b": "c"},
                },
            )
        ]
    )
    pipeline = make_pipeline(cfg, url=upstream.chat_url)
    for _ in range(2):  # the added value is copied, not shared between requests
        pipeline.send(chat_payload(temperature=0.7, max_tokens=5, a={"b": 1, "keep": 2}))
    body = upstream.requests[-1].json
    assert body["extra_body"] == {"chat_template_kwargs": {"thinking": False}}
    assert "temperature" not in body and "max_tokens" not in body
    assert body["max_completion_tokens"] == 5
    assert body["a"] == {"keep": 2} and body["c"] == 1
