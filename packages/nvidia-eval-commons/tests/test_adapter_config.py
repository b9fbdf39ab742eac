from __future__ import annotations

import pytest

from nvidia_eval_commons import ConfigError
from nvidia_eval_commons.api.adapter import AdapterConfig


def test_seed_table_defaults() -> None:
    cfg = AdapterConfig()
    assert cfg.api_url is None
    assert cfg.local_port is None
    assert cfg.use_reasoning is False
    assert cfg.end_reasoning_token == "</think>"
    assert cfg.custom_system_prompt is None
    assert cfg.max_logged_requests == 5
    assert cfg.max_logged_responses == 5


def test_pattern1_adapter_config_as_written() -> None:
    adapter_config = AdapterConfig(
        api_url="http://0.0.0.0:8080/v1/completions/",
        use_reasoning=True,
        end_reasoning_token="</think>",
        start_reasoning_token="<think>",
        custom_system_prompt="You are a helpful assistant that thinks step by step.",
        use_caching=True,
        caching_dir="./cache",
        use_request_logging=True,
        use_response_logging=True,
        max_logged_requests=100,
        max_logged_responses=100,
    )
    assert adapter_config.use_caching and adapter_config.caching_dir == "./cache"


def test_pattern3_sets_fields_after_construction() -> None:
    config = AdapterConfig(
        api_url="http://0.0.0.0:8080/v1/completions/", use_caching=True, caching_dir="./c/m"
    )
    config.use_reasoning = True
    config.end_reasoning_token = "</think>"
    config.start_reasoning_token = "<think>"
    assert config.use_reasoning is True


def test_debugging_tips_as_written() -> None:
    adapter_config = AdapterConfig(
        use_request_logging=True,
        use_response_logging=True,
        max_logged_requests=10,
        log_failed_requests=True,
    )
    adapter_config.use_progress_tracking = True
    adapter_config.progress_tracking_url = "http://localhost:3828/progress"
    assert adapter_config.progress_tracking_url.endswith("/progress")


def test_usage_example_as_written() -> None:
    adapter_config = AdapterConfig(
        api_url="http://127.0.0.1:8000/v1/completions/",
        local_port=None,
        max_logged_requests=1,
        max_logged_responses=1,
    )
    assert adapter_config.max_logged_requests == 1


def test_explicit_interceptor_list() -> None:
    cfg = AdapterConfig(
        interceptors=[
            {"name": "system_message", "config": {"system_message": "Be brief."}},
            {"name": "caching", "config": {"cache_dir": "./c"}},
        ]
    )
    assert cfg.interceptors is not None
    assert [i.name for i in cfg.interceptors] == ["system_message", "caching"]


def test_mixing_flat_fields_and_interceptors_is_an_error() -> None:
    with pytest.raises(ConfigError) as err:
        AdapterConfig(use_caching=True, interceptors=[{"name": "caching"}])
    assert "not both" in str(err.value) and "use_caching" in str(err.value)
    assert "\n" not in str(err.value)


def test_negative_log_limit_is_rejected() -> None:
    with pytest.raises(ConfigError, match="max_logged_requests"):
        AdapterConfig(max_logged_requests=-1)


def test_reexported_from_nemo_evaluator_when_installed() -> None:
    mod = pytest.importorskip(
        "nemo_evaluator.adapters.adapter_config",
        reason="nemo-evaluator is not installed in this environment (pip install nemo-evaluator)",
    )
    assert mod.AdapterConfig is AdapterConfig
