"""Request/response logging: bounded JSON lines; failures logged whatever the limits."""

from __future__ import annotations

import json
from pathlib import Path

from adapter_support import chat_payload

from nemo_evaluator.adapters.adapter_config import AdapterConfig


def _count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_limits_zero_and_none(upstream, make_pipeline, tmp_path) -> None:
    cases = {"two": (2, 2), "zero": (0, 0), "all": (None, None)}
    for name, (req, resp) in cases.items():
        cfg = AdapterConfig(max_logged_requests=req, max_logged_responses=resp)
        pipeline = make_pipeline(cfg, url=upstream.chat_url, output_dir=tmp_path / name)
        for i in range(6):
            pipeline.send(chat_payload(f"q{i}"))
        pipeline.close()
    assert _count(tmp_path / "two" / "requests.jsonl") == 2
    assert _count(tmp_path / "two" / "responses.jsonl") == 2
    assert not (tmp_path / "zero" / "requests.jsonl").exists()
    assert not (tmp_path / "zero" / "responses.jsonl").exists()
    assert _count(tmp_path / "all" / "requests.jsonl") == 6
    first = json.loads((tmp_path / "all" / "responses.jsonl").read_text().splitlines()[0])
    assert (
        first["status"] == 200 and first["body"]["choices"][0]["message"]["content"] == "Echo: q0"
    )


def test_failed_requests_are_all_logged_past_the_limits(upstream, make_pipeline, tmp_path) -> None:
    cfg = AdapterConfig(max_logged_requests=0, max_logged_responses=1, log_failed_requests=True)
    pipeline = make_pipeline(cfg, url=upstream.chat_url, output_dir=tmp_path / "f")
    upstream.fail(status=422, times=3)
    for i in range(5):
        pipeline.send(chat_payload(f"q{i}"))
    pipeline.close()
    failed = [
        json.loads(x) for x in (tmp_path / "f" / "failed_requests.jsonl").read_text().splitlines()
    ]
    assert [f["status"] for f in failed] == [422, 422, 422]
    assert [f["request"]["body"]["messages"][0]["content"] for f in failed] == ["q0", "q1", "q2"]
    assert _count(tmp_path / "f" / "responses.jsonl") == 1
    stats = json.loads((tmp_path / "f" / "adapter_stats.json").read_text())
    assert stats["status_codes"] == {"200": 2, "422": 3}
