"""The seed snippets' config objects construct exactly as written; errors are one line."""

from __future__ import annotations

import pytest

from nvidia_eval_commons import ConfigError
from nvidia_eval_commons.api.api_dataclasses import (
    ApiEndpoint,
    ConfigParams,
    EvaluationConfig,
    EvaluationTarget,
    infer_endpoint_type,
)


def test_pattern1_objects_construct_as_written() -> None:
    api_endpoint = ApiEndpoint(url="http://0.0.0.0:8080/v1/completions/", model_id="megatron_model")
    target = EvaluationTarget(api_endpoint=api_endpoint)
    config = EvaluationConfig(type="gsm8k", output_dir="results", params={"limit_samples": 50})
    assert target.api_endpoint.model_id == "megatron_model"
    assert target.api_endpoint.type == "completions"  # inferred from the URL
    assert config.params.limit_samples == 50
    assert isinstance(config.params, ConfigParams)


def test_usage_example_target_from_a_plain_dict() -> None:
    completions_url = "http://127.0.0.1:8000/v1/completions/"
    target_config = EvaluationTarget(api_endpoint={"url": completions_url, "type": "completions"})
    assert target_config.api_endpoint.url == completions_url
    assert target_config.api_endpoint.type == "completions"
    eval_config = EvaluationConfig(
        type="mmlu", params={"limit_samples": 1}, output_dir="/tmp/ws/mmlu"
    )
    assert eval_config.task_types == ["mmlu"]


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://h:1/v1/chat/completions", "chat"),
        ("http://h:1/v1/chat/completions/", "chat"),
        ("http://h:1/v1/completions/", "completions"),
        ("http://h:1/v1/completions?x=1", "completions"),
        ("http://h:1/v1", "chat"),
    ],
)
def test_endpoint_type_inference(url: str, kind: str) -> None:
    assert infer_endpoint_type(url) == kind
    assert ApiEndpoint(url=url).type == kind


def test_explicit_type_wins_over_the_url() -> None:
    assert ApiEndpoint(url="http://h/v1/completions", type="chat").type == "chat"


def test_missing_url_names_the_field() -> None:
    with pytest.raises(ConfigError) as err:
        EvaluationTarget(api_endpoint={"model_id": "m"})
    msg = str(err.value)
    assert "\n" not in msg
    assert "missing required field 'api_endpoint.url'" in msg


def test_unknown_key_names_key_place_and_nearest() -> None:
    with pytest.raises(ConfigError) as err:
        EvaluationTarget(
            api_endpoint={"url": "http://h/v1", "adapter_config": {"use_cachng": True}}
        )
    msg = str(err.value)
    assert "\n" not in msg
    assert "unknown key 'use_cachng' in api_endpoint.adapter_config" in msg
    assert "did you mean 'use_caching'?" in msg


def test_wrong_type_names_the_field() -> None:
    with pytest.raises(ConfigError) as err:
        EvaluationConfig(type="gsm8k", output_dir="r", params={"parallelism": "many"})
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("invalid EvaluationConfig: params.parallelism:")
    assert "'many'" in msg


def test_config_error_is_a_value_error() -> None:
    # the seed's Configuration Management and retry wrapper catch ValueError / Exception
    with pytest.raises(ValueError):
        ApiEndpoint(url="not a url")


@pytest.mark.parametrize(("value", "expected"), [(10, 10), (0.25, 0.25), (5.0, 5), (None, None)])
def test_limit_samples_count_or_fraction(value: float | None, expected: float | None) -> None:
    assert ConfigParams(limit_samples=value).limit_samples == expected


@pytest.mark.parametrize("value", [0, -3, 1.5, 0.0, True])
def test_limit_samples_rejects_nonsense(value: object) -> None:
    with pytest.raises(ConfigError, match="limit_samples"):
        ConfigParams(limit_samples=value)


def test_type_takes_a_comma_separated_list_or_a_list() -> None:
    assert EvaluationConfig(type="gsm8k, hellaswag,arc_easy", output_dir="o").task_types == [
        "gsm8k",
        "hellaswag",
        "arc_easy",
    ]
    assert EvaluationConfig(type=["gsm8k", "mmlu"], output_dir="o").type == "gsm8k,mmlu"


def test_api_key_literal_or_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from nvidia_eval_commons.env import MissingEnvVarError

    monkeypatch.setenv("MY_TEST_KEY", "sk-from-env")
    by_name = ApiEndpoint(url="http://h/v1", api_key_env="MY_TEST_KEY")
    assert by_name.resolved_api_key() == "sk-from-env"
    for text in ("${oc.env:MY_TEST_KEY}", "${env:MY_TEST_KEY}", " ${oc.env:MY_TEST_KEY} "):
        ep = ApiEndpoint(url="http://h/v1", api_key=text)
        assert ep.api_key is None and ep.api_key_env == "MY_TEST_KEY"
        assert ep.resolved_api_key() == "sk-from-env"
    # a literal is the key itself, whatever its shape, even when a variable has that name
    assert ApiEndpoint(url="http://h/v1", api_key="MY_TEST_KEY").resolved_api_key() == "MY_TEST_KEY"
    assert ApiEndpoint(url="http://h/v1", api_key="sk-literal").resolved_api_key() == "sk-literal"
    assert (
        ApiEndpoint(url="http://h/v1", api_key="${oc.env:A}x").resolved_api_key() == "${oc.env:A}x"
    )
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    unset = ApiEndpoint(url="http://h/v1", api_key_env="NOT_SET_ANYWHERE")
    with pytest.raises(MissingEnvVarError, match=r"NOT_SET_ANYWHERE .* is not set; export"):
        unset.resolved_api_key()
    monkeypatch.setenv("NOT_SET_ANYWHERE", "")  # empty counts as unset
    with pytest.raises(MissingEnvVarError):
        unset.resolved_api_key()
    with pytest.raises(ConfigError, match="not both"):
        ApiEndpoint(url="http://h/v1", api_key="k", api_key_env="MY_TEST_KEY")
    with pytest.raises(ConfigError, match="api_key_env"):
        ApiEndpoint(url="http://h/v1", api_key_env="1BAD-NAME")


def test_api_key_never_shows_in_repr_or_dumps() -> None:
    ep = ApiEndpoint(url="http://h/v1", api_key="sk-secret-123")
    assert "sk-secret-123" not in repr(ep)
    assert "sk-secret-123" not in str(ep.model_dump())
    assert "sk-secret-123" not in ep.model_dump_json()


def test_assignment_is_validated() -> None:
    params = ConfigParams()
    with pytest.raises(ConfigError, match="parallelism"):
        params.parallelism = 0
