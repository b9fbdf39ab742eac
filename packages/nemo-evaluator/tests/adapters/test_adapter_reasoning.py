"""Reasoning stripping: rules, chat and completions, reasoning_content and the stats file."""

from __future__ import annotations

import json
import sqlite3

import pytest

from nemo_evaluator.adapters.adapter_config import AdapterConfig, InterceptorSpec
from nemo_evaluator.adapters.interceptors.reasoning import strip_reasoning
from nemo_evaluator.testing import OpenAIStubServer


@pytest.mark.parametrize(
    ("text", "answer", "reasoning", "finished"),
    [
        ("<think>a b</think> 42", "42", "a b", True),
        ("plan it</think>\n42", "42", "plan it", True),  # no start token
        ("<think>still thinking", "", "still thinking", False),  # never ends
        ("just 42", "just 42", "", None),
        ("<think>x</think>A<think>y</think>B", "AB", "xy", True),
    ],
)
def test_strip_rules(text: str, answer: str, reasoning: str, finished: bool | None) -> None:
    assert strip_reasoning(text, "<think>", "</think>") == (answer, reasoning, finished)


def test_start_token_none_strips_up_to_the_end_token() -> None:
    assert strip_reasoning("<think>x</think>y", None, "</think>") == ("y", "<think>x", True)


def test_chat_and_completions_through_the_pipeline(make_pipeline, tmp_path) -> None:
    cfg = AdapterConfig(use_reasoning=True, use_caching=True)
    with OpenAIStubServer(reply="<think>let me see</think> Paris") as up:
        chat = make_pipeline(cfg, url=up.chat_url, output_dir=tmp_path / "c")
        a = chat.send({"model": "m", "messages": [{"role": "user", "content": "capital?"}]})
        b = chat.send({"model": "m", "messages": [{"role": "user", "content": "capital?"}]})
        comp = make_pipeline(
            cfg, url=up.completions_url, endpoint_type="completions", output_dir=tmp_path / "p"
        )
        c = comp.send({"model": "m", "prompt": "capital?"})
    assert a.json()["choices"][0]["message"]["content"] == "Paris"
    assert b.cache_hit and b.json()["choices"][0]["message"]["content"] == "Paris"
    assert c.json()["choices"][0]["text"] == "Paris"
    chat.close()
    stats = json.loads((tmp_path / "c" / "reasoning_stats.json").read_text())
    assert stats["choices_with_reasoning"] == 2 and stats["reasoning_chars"] == 2 * len(
        "let me see"
    )
    # the cache keeps the raw answer, so changing the reasoning settings later still works
    conn = sqlite3.connect(tmp_path / "c" / "cache" / "cache.sqlite")
    rows = conn.execute("SELECT content FROM responses").fetchall()
    conn.close()
    assert len(rows) == 1 and b"<think>let me see</think>" in rows[0][0]


def test_reasoning_content_field_is_counted_and_optionally_dropped(make_pipeline, upstream) -> None:
    cfg = AdapterConfig(
        interceptors=[InterceptorSpec(name="reasoning", config={"drop_reasoning_content": True})]
    )
    pipeline = make_pipeline(cfg, url=upstream.chat_url)
    ic = pipeline.interceptors[0]
    from nemo_evaluator.adapters.interceptor import AdapterResponse, RequestContext

    resp = AdapterResponse.from_json(
        {"choices": [{"message": {"content": "42", "reasoning_content": "six times seven"}}]}
    )
    out = ic.on_response(resp, RequestContext(request_id="1", upstream_url="u"))
    assert json.loads(out.content)["choices"][0]["message"] == {"content": "42"}
    assert ic.stats()["reasoning_chars"] == len("six times seven")


def test_unfinished_reasoning_gives_an_empty_answer(make_pipeline) -> None:
    with OpenAIStubServer(reply="<think>hmm hmm hmm") as up:
        pipeline = make_pipeline(AdapterConfig(use_reasoning=True), url=up.chat_url)
        resp = pipeline.send({"model": "m", "messages": [{"role": "user", "content": "q"}]})
    assert resp.json()["choices"][0]["message"]["content"] == ""
    assert pipeline.stats()["interceptors"]["reasoning"]["reasoning_unfinished"] == 1
