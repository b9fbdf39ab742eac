"""API keys: literal or by reference, sent upstream, and never written to any output file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from nemo_evaluator.adapters.pipeline import AdapterPipeline
from nemo_evaluator.core.evaluate import evaluate
from nemo_evaluator.testing import OpenAIStubServer
from nemo_evaluator.testing.secrets import KEY_SHAPES, files_holding
from nvidia_eval_commons.env import MissingEnvVarError

KEYS = KEY_SHAPES


def _run(url: str, out: Path, endpoint_key: dict[str, str], *, server_mode: bool) -> None:
    adapter = {
        "use_request_logging": True,
        "use_response_logging": True,
        "use_caching": True,
        "caching_dir": str(out / "cache"),
    }
    if server_mode:
        adapter["local_port"] = 0
    evaluate(
        target_cfg={
            "api_endpoint": {
                "url": f"{url}/v1/completions",
                "model_id": "stub-model",
                **endpoint_key,
                "adapter_config": adapter,
            }
        },
        eval_cfg={
            "type": "tiny_gsm8k",
            "output_dir": str(out),
            "params": {"limit_samples": 3, "extra": {"quiet": True}},
        },
    )


@pytest.mark.parametrize("shape", sorted(KEYS))
@pytest.mark.parametrize("how", ["literal", "api_key_env", "oc_env_text"])
def test_key_reaches_upstream_and_no_file(
    shape: str, how: str, gsm8k_upstream: OpenAIStubServer, tmp_path: Path, monkeypatch
) -> None:
    key = KEYS[shape]
    monkeypatch.setenv("MY_EVAL_KEY_1", key)
    given = {
        "literal": {"api_key": key},
        "api_key_env": {"api_key_env": "MY_EVAL_KEY_1"},
        "oc_env_text": {"api_key": "${oc.env:MY_EVAL_KEY_1}"},
    }[how]
    out = tmp_path / "out"
    _run(gsm8k_upstream.url, out, given, server_mode=how == "literal" and shape == "symbols")
    auth = {r.headers.get("Authorization") for r in gsm8k_upstream.requests if "/v1/" in r.path}
    assert auth == {f"Bearer {key}"}
    assert (out / "results.json").is_file() and (out / "samples.jsonl").is_file()
    assert files_holding(out, key) == []
    run_config = json.loads((out / "run_config.json").read_text())
    if how == "literal":
        assert "api_key" not in run_config["target"]["api_endpoint"]
    else:  # the reference, never the value, is kept: a resume reads the variable again
        assert run_config["target"]["api_endpoint"]["api_key_env"] == "MY_EVAL_KEY_1"


def test_upper_case_literal_is_not_taken_for_a_variable(
    gsm8k_upstream: OpenAIStubServer, tmp_path: Path, monkeypatch
) -> None:
    # even when a variable of that name exists, a literal api_key is the key itself
    monkeypatch.setenv("ABC_DEF_123_XYZ9", "something-else")
    _run(gsm8k_upstream.url, tmp_path / "o", {"api_key": KEYS["upper"]}, server_mode=False)
    assert {r.headers.get("Authorization") for r in gsm8k_upstream.requests} == {
        f"Bearer {KEYS['upper']}"
    }


@pytest.mark.parametrize(
    "given", [{"api_key_env": "NEMO_TEST_UNSET_KEY"}, {"api_key": "${oc.env:NEMO_TEST_UNSET_KEY}"}]
)
def test_unset_reference_fails_before_any_request(
    given: dict[str, str], gsm8k_upstream: OpenAIStubServer, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.delenv("NEMO_TEST_UNSET_KEY", raising=False)
    with pytest.raises(MissingEnvVarError) as info:
        _run(gsm8k_upstream.url, tmp_path / "o", given, server_mode=False)
    message = str(info.value)
    assert "\n" not in message
    assert "NEMO_TEST_UNSET_KEY" in message and "export NEMO_TEST_UNSET_KEY=" in message
    assert gsm8k_upstream.request_count == 0
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("configured", ["sk-configured-1", None])
def test_client_authorization_header(
    configured: str | None, gsm8k_upstream: OpenAIStubServer, tmp_path: Path
) -> None:
    """A configured key replaces the client's header; without one the client's goes through."""
    pipeline = AdapterPipeline.from_config(
        None,
        upstream_url=f"{gsm8k_upstream.url}/v1/chat/completions",
        output_dir=tmp_path,
        api_key=configured,
    )
    server = pipeline.serve()
    try:
        resp = requests.post(
            f"{server.url}/v1/chat/completions",
            json={"model": "stub-model", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": "Bearer client-own-key"},
            timeout=30,
        )
    finally:
        server.stop()
        pipeline.close()
    assert resp.status_code == 200
    seen = [r.headers.get("Authorization") for r in gsm8k_upstream.requests]
    assert seen == [f"Bearer {configured}" if configured else "Bearer client-own-key"]


def test_cli_api_key_env_and_unset_variable(
    gsm8k_upstream: OpenAIStubServer, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    cli = str(Path(__file__).parent / "evalcore_cli.py")
    cmd = [sys.executable, cli, "run", "--model-url", gsm8k_upstream.completions_url]
    cmd += ["--model-id", "stub-model", "--type", "tiny_gsm8k", "--output-dir", str(tmp_path)]
    cmd += ["-o", "params.limit_samples=2", "--quiet", "--api-key-env", "NEMO_CLI_KEY"]
    env = {k: v for k, v in os.environ.items() if k != "NEMO_CLI_KEY"}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert res.returncode == 1 and gsm8k_upstream.request_count == 0
    assert res.stderr.strip().count("\n") == 0 and "NEMO_CLI_KEY" in res.stderr
    env["NEMO_CLI_KEY"] = KEYS["symbols"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert {r.headers.get("Authorization") for r in gsm8k_upstream.requests} == {
        f"Bearer {KEYS['symbols']}"
    }
    assert files_holding(tmp_path, KEYS["symbols"]) == []
    stored = json.loads((tmp_path / "run_config.json").read_text())["target"]["api_endpoint"]
    assert stored["api_key_env"] == "NEMO_CLI_KEY"
