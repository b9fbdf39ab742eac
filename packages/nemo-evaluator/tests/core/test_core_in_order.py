"""Rows written while the run goes: in the run's order, bounded, and the same as from the journal."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import evalcore_support  # noqa: F401  (registers the tiny benchmarks)
import pytest
from shared_data import MISSING

import nemo_evaluator.core.task_run as task_run
from nemo_evaluator.core.evaluate import evaluate
from nemo_evaluator.core.in_order import InOrder
from nvidia_eval_commons.api.api_dataclasses import ApiEndpoint, EvaluationConfig, EvaluationTarget


def collect(order: list[str], limit: int) -> tuple[InOrder, list[tuple[int, Any]]]:
    emitted: list[tuple[int, Any]] = []
    return InOrder(order, emit=lambda i, item: emitted.append((i, item)), limit=limit), emitted


def test_documents_are_passed_on_in_order_whatever_order_they_finish_in() -> None:
    stream, emitted = collect(list("abcde"), limit=8)
    positions = []
    for key in "cabed":
        stream.finished(key, key.upper())
        positions.append(stream.position)
    assert positions == [0, 1, 3, 3, 5]
    assert emitted == [(0, "A"), (1, "B"), (2, "C"), (3, "D"), (4, "E")]
    assert stream.held == 0 and not stream.stopped


def test_holding_more_than_the_limit_stops_and_drops_what_is_held() -> None:
    stream, emitted = collect(list("abcdef"), limit=2)
    stream.finished("b", 1)
    stream.finished("c", 2)
    assert (stream.held, stream.stopped) == (2, False)  # at the limit: still held
    stream.finished("d", 3)
    assert (stream.held, stream.stopped, stream.position) == (0, True, 0)  # one past it
    stream.finished("a", 0)  # the one everything waited for comes too late
    assert emitted == [] and stream.position == 0


@pytest.mark.parametrize("key", ["a", "zz"])
def test_a_repeated_or_unknown_document_stops_the_stream(key: str) -> None:
    stream, emitted = collect(list("abc"), limit=8)
    stream.finished("a", 0)
    stream.finished(key, 1)
    assert stream.stopped and emitted == [(0, 0)] and stream.position == 1


def _rows(report: Path) -> list[dict[str, Any]]:
    data = re.search(r'id="samples-data">(.*?)</script>', report.read_text(), re.S)
    assert data is not None
    return list(json.loads(data.group(1)))


@pytest.mark.skipif(MISSING is not None, reason=MISSING or "")
def test_rows_written_while_running_equal_the_rows_rebuilt_from_the_journal(
    gsm8k_upstream, tmp_path, monkeypatch
) -> None:
    streams: list[InOrder] = []

    class Recorded(InOrder):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            streams.append(self)

    monkeypatch.setattr(task_run, "InOrder", Recorded)
    gsm8k_upstream.fail(status=500, times=1)  # one error row among them
    url = gsm8k_upstream.completions_url
    target = EvaluationTarget(api_endpoint=ApiEndpoint(url=url, model_id="stub-model"))

    def config(**extra: Any) -> EvaluationConfig:
        params = {"parallelism": 4, "limit_samples": 30, "max_retries": 0}
        return EvaluationConfig(
            type="tiny_gsm8k",
            output_dir=str(tmp_path),
            params={**params, "extra": {"quiet": True, **extra}},
        )

    first = evaluate(target, config())
    [stream] = streams
    assert stream.position == 30 and first.metadata.num_errors == 1  # every row while running
    streamed = (tmp_path / "samples.jsonl").read_bytes()
    streamed_rows = _rows(tmp_path / "report.html")
    again = evaluate(target, config(rescore=True))  # nothing to send: every row from the journal
    assert len(streams) == 1 and again.tasks == first.tasks
    assert (tmp_path / "samples.jsonl").read_bytes() == streamed
    assert _rows(tmp_path / "report.html") == streamed_rows
    assert [json.loads(x)["doc_id"] for x in streamed.splitlines()] == [str(i) for i in range(30)]
