"""System message: replace, prepend, append for chat; a start-up error for completions."""

from __future__ import annotations

import logging

import pytest
from adapter_support import chat_payload

from nemo_evaluator.adapters.adapter_config import AdapterConfig, InterceptorSpec
from nemo_evaluator.errors import ConfigError


def _with_system(upstream, make_pipeline, mode: str) -> list[dict]:
    cfg = AdapterConfig(
        interceptors=[
            InterceptorSpec(name="system_message", config={"system_message": "NEW", "mode": mode})
        ]
    )
    payload = chat_payload("q")
    payload["messages"].insert(0, {"role": "system", "content": "OLD"})
    make_pipeline(cfg, url=upstream.chat_url).send(payload)
    return upstream.requests[-1].json["messages"]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("replace", "NEW"), ("prepend", "NEW\nOLD"), ("append", "OLD\nNEW")],
)
def test_modes(upstream, make_pipeline, mode: str, expected: str) -> None:
    messages = _with_system(upstream, make_pipeline, mode)
    assert messages == [
        {"role": "system", "content": expected},
        {"role": "user", "content": "q"},
    ]


def test_flat_custom_system_prompt_adds_one_when_missing(upstream, make_pipeline) -> None:
    pipeline = make_pipeline(AdapterConfig(custom_system_prompt="Think."), url=upstream.chat_url)
    pipeline.send(chat_payload("q"))
    assert upstream.requests[-1].json["messages"][0] == {"role": "system", "content": "Think."}


def test_explicit_system_message_on_completions_is_a_start_up_error(
    upstream, make_pipeline
) -> None:
    cfg = AdapterConfig(
        interceptors=[InterceptorSpec(name="system_message", config={"system_message": "x"})]
    )
    with pytest.raises(ConfigError, match="only works with chat endpoints"):
        make_pipeline(cfg, url=upstream.completions_url, endpoint_type="completions")


def test_flat_prompt_on_completions_is_left_out_with_a_warning(
    upstream, make_pipeline, caplog
) -> None:
    with caplog.at_level(logging.WARNING):
        pipeline = make_pipeline(
            AdapterConfig(custom_system_prompt="x"),
            url=upstream.completions_url,
            endpoint_type="completions",
        )
    assert "custom_system_prompt is ignored" in caplog.text
    assert "system_message" not in [ic.name for ic in pipeline.interceptors]
    assert pipeline.send({"model": "m", "prompt": "2+2="}).json()["choices"][0]["text"]


def test_empty_system_message_is_rejected(upstream, make_pipeline) -> None:
    cfg = AdapterConfig(
        interceptors=[InterceptorSpec(name="system_message", config={"system_message": ""})]
    )
    with pytest.raises(ConfigError, match="system_message"):
        make_pipeline(cfg, url=upstream.chat_url)
