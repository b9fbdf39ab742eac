"""Chain order, short-circuits, flat vs explicit configs, registry and entry points."""

from __future__ import annotations

import sys
import textwrap
import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest
from adapter_support import chat_payload
from pydantic import BaseModel

from nemo_evaluator.adapters import registry
from nemo_evaluator.adapters.adapter_config import AdapterConfig, InterceptorSpec
from nemo_evaluator.adapters.chain import specs_from_config
from nemo_evaluator.adapters.interceptor import AdapterResponse, Interceptor
from nemo_evaluator.errors import ConfigError, NemoEvaluatorError, UnknownInterceptorError
from nvidia_eval_commons.errors import ConfigError as CommonsConfigError


class TraceConfig(BaseModel):
    label: str
    answer: bool = False


class TraceInterceptor(Interceptor):
    name = "trace"
    config_model = TraceConfig
    seen: ClassVar[list[str]] = []

    def on_request(self, request: Any, ctx: Any) -> Any:
        self.seen.append(f"req:{self.config.label}")
        if self.config.answer:
            return AdapterResponse.from_json({"short": self.config.label})
        return request

    def on_response(self, response: Any, ctx: Any) -> Any:
        self.seen.append(f"resp:{self.config.label}")
        return response


registry.register(TraceInterceptor)


def _trace(label: str, answer: bool = False) -> InterceptorSpec:
    return InterceptorSpec(name="trace", config={"label": label, "answer": answer})


def test_requests_in_order_responses_in_reverse(upstream, make_pipeline) -> None:
    TraceInterceptor.seen.clear()
    cfg = AdapterConfig(interceptors=[_trace("a"), _trace("b"), _trace("c")])
    resp = make_pipeline(cfg, url=upstream.chat_url).send(chat_payload())
    assert resp.status_code == 200 and resp.attempts == 1
    assert TraceInterceptor.seen == ["req:a", "req:b", "req:c", "resp:c", "resp:b", "resp:a"]
    assert upstream.request_count == 1


def test_short_circuit_skips_upstream_and_inner_interceptors(upstream, make_pipeline) -> None:
    TraceInterceptor.seen.clear()
    cfg = AdapterConfig(interceptors=[_trace("a"), _trace("b", answer=True), _trace("c")])
    resp = make_pipeline(cfg, url=upstream.chat_url).send(chat_payload())
    assert resp.json() == {"short": "b"}
    assert TraceInterceptor.seen == ["req:a", "req:b", "resp:a"]
    assert upstream.request_count == 0


def test_flat_fields_and_explicit_list_build_the_same_chain(tmp_path: Path) -> None:
    flat = AdapterConfig(
        use_reasoning=True,
        custom_system_prompt="Be brief.",
        use_caching=True,
        caching_dir=str(tmp_path / "c"),
        max_logged_requests=3,
        log_failed_requests=True,
    )
    specs = specs_from_config(flat, endpoint_type="chat")
    explicit = AdapterConfig(interceptors=specs)
    assert [s.name for s in specs] == [
        "response_stats",
        "system_message",
        "reasoning",
        "request_logging",
        "response_logging",
        "caching",
    ]
    assert specs_from_config(explicit, endpoint_type="chat") == specs
    assert specs[1].config == {"system_message": "Be brief.", "mode": "replace"}
    assert specs[4].config == {"max_responses": 5, "log_failed_requests": True}


def test_mixing_flat_fields_and_interceptors_is_an_error() -> None:
    with pytest.raises(CommonsConfigError, match="not both"):
        AdapterConfig(use_caching=True, interceptors=[InterceptorSpec(name="caching")])


def test_disabled_entries_are_left_out() -> None:
    cfg = AdapterConfig(interceptors=[InterceptorSpec(name="caching", enabled=False), _trace("x")])
    assert [s.name for s in specs_from_config(cfg, endpoint_type="chat")] == ["trace"]


def test_unknown_interceptor_names_the_valid_ones(upstream, make_pipeline) -> None:
    cfg = AdapterConfig(interceptors=[InterceptorSpec(name="cachng")])
    with pytest.raises(UnknownInterceptorError, match="did you mean 'caching'") as info:
        make_pipeline(cfg, url=upstream.chat_url)
    assert isinstance(info.value, ConfigError) and isinstance(info.value, NemoEvaluatorError)
    assert isinstance(info.value, CommonsConfigError)


def test_bad_interceptor_config_fails_at_start_up(upstream, make_pipeline) -> None:
    cfg = AdapterConfig(
        interceptors=[InterceptorSpec(name="request_logging", config={"max_request": 3})]
    )
    with pytest.raises(ConfigError, match=r"interceptors\[0\] 'request_logging'.*max_requests"):
        make_pipeline(cfg, url=upstream.chat_url)


def test_bad_upstream_url_and_endpoint_type(tmp_path: Path, make_pipeline) -> None:
    with pytest.raises(ConfigError, match="http://"):
        make_pipeline(None, url="127.0.0.1:8080/v1/chat/completions")
    with pytest.raises(ConfigError, match="endpoint_type"):
        make_pipeline(None, url="http://127.0.0.1:1/v1", endpoint_type="embeddings")


def test_entry_point_interceptor_is_discovered(
    tmp_path: Path, upstream, make_pipeline, monkeypatch
) -> None:
    pkg = tmp_path / "site"
    (pkg / "ep_demo").mkdir(parents=True)
    (pkg / "ep_demo" / "__init__.py").write_text(
        textwrap.dedent(
            """
            from pydantic import BaseModel
            from nemo_evaluator.adapters.interceptor import Interceptor

            class TagConfig(BaseModel):
                tag: str

            class TagInterceptor(Interceptor):
                name = "tagger"
                config_model = TagConfig

                def on_request(self, request, ctx):
                    request.json()["metadata"] = {"tag": self.config.tag}
                    request.mark_dirty()
                    return request
            """
        )
    )
    dist = pkg / "ep_demo-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-demo\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[nemo_evaluator.interceptors]\ntagger = ep_demo:TagInterceptor\n"
    )
    monkeypatch.syspath_prepend(str(pkg))
    assert "tagger" in registry.available()
    cfg = AdapterConfig(interceptors=[InterceptorSpec(name="tagger", config={"tag": "t1"})])
    make_pipeline(cfg, url=upstream.chat_url).send(chat_payload())
    assert upstream.requests[-1].json["metadata"] == {"tag": "t1"}
    sys.modules.pop("ep_demo", None)


def test_client_mode_is_thread_safe(upstream, make_pipeline) -> None:
    pipeline = make_pipeline(
        AdapterConfig(use_caching=True, max_logged_requests=None), url=upstream.chat_url
    )
    results: list[int] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        for j in range(10):
            r = pipeline.send(chat_payload(f"q{i}-{j % 5}"))
            with lock:
                results.append(r.status_code)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    stats = pipeline.stats()
    assert results == [200] * 80
    assert stats["requests"] == 80
    assert stats["interceptors"]["caching"]["cache_hits"] == 40
    assert upstream.request_count == 40
    pipeline.close()
    lines = (pipeline.output_dir / "requests.jsonl").read_text().splitlines()
    assert len(lines) == 80
