"""Which interceptors belong to the settings a resume must match: the class says so."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from nemo_evaluator.adapters.interceptor import Interceptor
from nemo_evaluator.adapters.registry import INTERCEPTORS, register
from nemo_evaluator.core.resume_keys import result_settings
from nemo_evaluator.errors import UnknownInterceptorError
from nvidia_eval_commons.api.api_dataclasses import (
    AdapterConfig,
    ApiEndpoint,
    ConfigParams,
    EvaluationTarget,
)


class _Options(BaseModel):
    level: int = 0


class _StatsRewriter(Interceptor):
    """Named like an observer, but rewrites requests: it must count."""

    name = "cache_stats_rewriter"
    config_model = _Options


class _QuietObserver(Interceptor):
    """Named like nothing in particular, but only observes: it must not count."""

    name = "quiet_observer"
    config_model = _Options
    changes_results = False


@pytest.fixture
def third_party_interceptors():
    for cls in (_StatsRewriter, _QuietObserver):
        register(cls)
    yield
    for cls in (_StatsRewriter, _QuietObserver):
        INTERCEPTORS.unregister(cls.name)


def _settings(interceptors):
    adapter = AdapterConfig(interceptors=interceptors)
    target = EvaluationTarget(api_endpoint=ApiEndpoint(url="http://127.0.0.1:1/v1", model_id="m"))
    return result_settings(task="t", target=target, params=ConfigParams(), adapter=adapter)


def test_result_settings_keep_only_interceptors_whose_class_changes_results(
    third_party_interceptors,
) -> None:
    settings = _settings(
        [
            {"name": "request_logging"},
            {"name": "system_message", "config": {"system_message": "Be brief."}},
            {"name": "caching", "config": {"cache_dir": "/tmp/c"}},
            {"name": "cache_stats_rewriter", "config": {"level": 2}},
            {"name": "quiet_observer", "config": {"level": 1}},
            {"name": "response_stats"},
            {"name": "progress_tracking"},
            {"name": "response_logging"},
        ]
    )
    names = [entry["name"] for entry in settings["adapter"]["interceptors"]]
    assert names == ["system_message", "cache_stats_rewriter"]
    assert settings["adapter"]["interceptors"][1]["config"] == {"level": 2}


def test_every_builtin_says_whether_it_changes_results() -> None:
    observing = {n for n in INTERCEPTORS.names() if not INTERCEPTORS.get(n).changes_results}
    assert observing == {
        "request_logging",
        "response_logging",
        "caching",
        "progress_tracking",
        "response_stats",
    }


def test_an_unknown_interceptor_in_the_settings_names_the_valid_ones() -> None:
    with pytest.raises(UnknownInterceptorError, match="system_message"):
        _settings([{"name": "no_such_interceptor"}])
