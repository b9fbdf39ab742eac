"""The nemo engine: its request/result mapping on the CPU, its serving on a GPU (skipped here).

Megatron-core's output is rebuilt here from a real forward pass of SmolLM2 in exactly the layout
its static engine returns (``prompt_log_probs`` for prompt tokens 2..n, ``generated_log_probs``
and ``generated_top_n_logprobs`` per generated position, generation running past the
end-of-sequence token under ``no_early_termination``); the mapping must then give what the hf
engine gives for the same request.
"""

from __future__ import annotations

import importlib.util
import os
import random
from pathlib import Path
from typing import Any

import pytest

from nemo_eval.engines.base import EngineSpec, GenerateRequest, GenerateResult
from nemo_eval.engines.nemo import NemoEngine
from nemo_eval.engines.nemo_inference import (
    build_result,
    context_length,
    group_requests,
    megatron_sampling_kwargs,
    sampling_fields,
)
from nemo_eval.errors import HardwareError, MissingExtraError

MAX_CONTEXT = 2048


def test_greedy_and_sampled_requests_map_to_megatron_sampling() -> None:
    greedy = sampling_fields(
        GenerateRequest(prompt_ids=[1, 2, 3], max_tokens=5, temperature=0.0, seed=7),
        max_context=MAX_CONTEXT,
    )
    assert (greedy.top_k, greedy.temperature, greedy.top_p, greedy.seed) == (1, 1.0, 0.0, None)
    assert greedy.num_tokens_to_generate == 5 and not greedy.return_log_probs
    sampled = sampling_fields(
        GenerateRequest(prompt_ids=[1], temperature=0.7, top_p=0.9, seed=11, logprobs=3, echo=True),
        max_context=MAX_CONTEXT,
    )
    assert (sampled.top_k, sampled.temperature, sampled.top_p, sampled.seed) == (0, 0.7, 0.9, 11)
    assert sampled.return_log_probs and sampled.no_early_termination
    assert sampled.top_n_logprobs == 3 and sampled.return_prompt_top_n_logprobs
    # top_p=1 is megatron's "no top-p" (0.0); top_p=0 keeps only the best token: greedy
    assert (
        sampling_fields(GenerateRequest(prompt_ids=[1], temperature=1.0), max_context=9).top_p == 0
    )
    assert sampling_fields(GenerateRequest(prompt_ids=[1], top_p=0.0), max_context=9).top_k == 1
    # the context window caps the budget exactly as the hf engine does
    long = GenerateRequest(prompt_ids=list(range(10)), max_tokens=50, temperature=0.0)
    assert sampling_fields(long, max_context=16).num_tokens_to_generate == 6
    # logprobs=0 still returns log-probabilities, with no top-k and no prompt top-k
    zero = sampling_fields(
        GenerateRequest(prompt_ids=[1], logprobs=0, echo=True, temperature=0), max_context=9
    )
    assert zero.return_log_probs and zero.top_n_logprobs == 0
    assert not zero.return_prompt_top_n_logprobs
    kwargs = megatron_sampling_kwargs(sampled)
    assert set(kwargs) == {
        "temperature",
        "top_k",
        "top_p",
        "return_log_probs",
        "num_tokens_to_generate",
        "top_n_logprobs",
        "return_prompt_top_n_logprobs",
    }
    assert kwargs["top_k"] == 0 and kwargs["top_p"] == 0.9


def test_requests_are_grouped_by_what_a_megatron_batch_shares() -> None:
    reqs = [
        GenerateRequest(prompt_ids=[1, 2], max_tokens=4, temperature=0.0),
        GenerateRequest(prompt_ids=[3], max_tokens=4, temperature=0.0, seed=5),  # seed ignored
        GenerateRequest(prompt_ids=[4], max_tokens=4, temperature=0.0, logprobs=2, echo=True),
        GenerateRequest(prompt_ids=[5], max_tokens=4, temperature=0.8, seed=1),
        GenerateRequest(prompt_ids=[6], max_tokens=4, temperature=0.8, seed=1),
        GenerateRequest(prompt_ids=[7], max_tokens=4, temperature=0.8),
        GenerateRequest(prompt_ids=[8], max_tokens=4, temperature=0.8),
        GenerateRequest(prompt_ids=[9], max_tokens=8, temperature=0.0),
    ]
    groups = group_requests(reqs, max_context=MAX_CONTEXT, rng=random.Random(0))
    assert [idx for _, idx in groups] == [[0, 1], [2], [3, 4], [5], [6], [7]]
    seeds = [key.seed for key, _ in groups]
    assert seeds[0] is None and seeds[2] == 1
    assert seeds[3] is not None and seeds[4] is not None and seeds[3] != seeds[4]


def test_context_length_from_nemo2_and_nemo1_configs() -> None:
    assert context_length({"_target_": "LlamaModel", "config": {"seq_length": 8192}}) == 8192
    assert context_length({"encoder_seq_length": 4096, "num_layers": 2}) == 4096
    assert context_length({"max_position_embeddings": 2048}) == 2048
    assert context_length({"num_layers": 2, "config": {"seq_length": True}}) is None


# -- the mapping against a real model ------------------------------------------------------


@pytest.fixture(scope="module")
def smol(smol_dir: Path) -> Any:
    from nemo_eval.engines.hf import HfEngine

    return HfEngine.load(
        EngineSpec(engine="hf", path=str(smol_dir), device="cpu"), model_name="smol"
    )


def _megatron_layout(engine: Any, prompt: list[int], steps: int, k: int) -> dict[str, Any]:
    """What megatron-core 0.14's static engine returns for a greedy request that does not stop
    at the end-of-sequence token, computed from plain full forward passes."""
    import torch

    ids = list(prompt)
    with torch.inference_mode():
        for _ in range(steps):
            logits = engine.model(input_ids=torch.tensor([ids])).logits[0, -1]
            ids.append(int(torch.argmax(logits)))
        logprobs = torch.log_softmax(engine.model(input_ids=torch.tensor([ids[:-1]])).logits[0], -1)
    chosen = [float(logprobs[j, ids[j + 1]]) for j in range(len(ids) - 1)]
    tops = []
    for j in range(len(ids) - 1):
        values, indices = torch.topk(logprobs[j], k)
        tops.append(
            {engine.detokenize([int(i)]): float(v) for v, i in zip(values, indices, strict=True)}
        )
    n = len(prompt)
    return {
        "tokens": ids[n:],
        "generated_log_probs": chosen[n - 1 : n - 1 + steps],
        "generated_top": tops[n - 1 : n - 1 + steps],
        "prompt_log_probs": chosen[: n - 1],
        "prompt_top": tops[: n - 1],
    }


def _assert_same(ours: GenerateResult, ref: GenerateResult) -> None:
    assert ours.token_ids == ref.token_ids
    assert ours.text == ref.text
    assert ours.finish_reason == ref.finish_reason
    assert ours.stop_token == ref.stop_token
    for a, b in (
        (ours.token_logprobs, ref.token_logprobs),
        (ours.prompt_logprobs, ref.prompt_logprobs),
    ):
        assert (a is None) == (b is None)
        if a is None or b is None:
            continue
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert (x is None and y is None) or abs(x - y) < 1e-4, (x, y)
    for tops_a, tops_b in (
        (ours.top_logprobs, ref.top_logprobs),
        (ours.prompt_top_logprobs, ref.prompt_top_logprobs),
    ):
        assert (tops_a is None) == (tops_b is None)
        if tops_a is None or tops_b is None:
            continue
        assert len(tops_a) == len(tops_b)
        for ta, tb in zip(tops_a, tops_b, strict=True):
            assert (ta is None) == (tb is None)
            if ta is not None and tb is not None:
                assert set(ta) == set(tb)


@pytest.mark.model
@pytest.mark.slow
def test_megatron_outputs_map_to_what_the_hf_engine_returns(smol: Any) -> None:
    prompt = smol.tokenize(
        smol.chat_prompt([{"role": "user", "content": "What is 2+3?"}]), special=False
    )
    steps, k = 24, 3
    layout = _megatron_layout(smol, prompt, steps, k)
    eos_positions = [i for i, t in enumerate(layout["tokens"]) if t in smol.eos_ids]
    assert eos_positions, "SmolLM2 should end its answer within 24 tokens"
    cases = [
        GenerateRequest(
            prompt_ids=prompt, max_tokens=steps, temperature=0.0, logprobs=k, echo=True
        ),
        GenerateRequest(prompt_ids=prompt, max_tokens=3, temperature=0.0, logprobs=k, echo=True),
        GenerateRequest(
            prompt_ids=prompt, max_tokens=steps, temperature=0.0, logprobs=0, stop=["5"]
        ),
    ]
    for req in cases:
        ref = smol.generate([req])[0]
        key = sampling_fields(req, max_context=smol.max_context)
        ours = build_result(
            req, key=key, eos_ids=smol.eos_ids, detokenize=smol.detokenize, **layout
        )
        _assert_same(ours, ref)
    # the full answer ends on the end-of-sequence token, reported with its log-probability
    full = build_result(
        cases[0],
        key=sampling_fields(cases[0], max_context=smol.max_context),
        eos_ids=smol.eos_ids,
        detokenize=smol.detokenize,
        **layout,
    )
    assert full.finish_reason == "stop" and full.stop_token in smol.eos_ids
    assert "5" in full.text and full.prompt_logprobs is not None
    assert full.prompt_logprobs[0] is None and len(full.prompt_logprobs) == len(prompt)
    assert full.token_logprobs is not None and len(full.token_logprobs) == eos_positions[0] + 1
    # the stop string cuts the text before "5" and drops the tokens after it
    cut = build_result(
        cases[2],
        key=sampling_fields(cases[2], max_context=smol.max_context),
        eos_ids=smol.eos_ids,
        detokenize=smol.detokenize,
        **layout,
    )
    assert cut.finish_reason == "stop" and "5" not in cut.text and cut.stop_token is None
    assert len(cut.token_ids) < eos_positions[0] and cut.top_logprobs == [{}] * len(cut.token_ids)


def test_early_termination_and_bad_megatron_output() -> None:
    detok = lambda ids: "".join(chr(97 + i) for i in ids)  # noqa: E731 - a token is a letter
    req = GenerateRequest(prompt_ids=[0, 1, 2], max_tokens=6, temperature=0.0)
    key = sampling_fields(req, max_context=MAX_CONTEXT)
    # megatron stopped at its end-of-document id after three tokens and did not return it
    res = build_result(req, tokens=[3, 4, 5], key=key, eos_ids={25}, detokenize=detok)
    assert (res.token_ids, res.text, res.finish_reason) == ([3, 4, 5], "def", "stop")
    full = build_result(req, tokens=[3, 4, 5, 6, 7, 8], key=key, eos_ids={25}, detokenize=detok)
    assert full.finish_reason == "length" and full.token_logprobs is None
    echo = GenerateRequest(prompt_ids=[0, 1, 2], max_tokens=1, logprobs=1, echo=True)
    with pytest.raises(ValueError, match="scored 1 prompt tokens, expected 2"):
        build_result(
            echo,
            tokens=[3],
            key=sampling_fields(echo, max_context=9),
            eos_ids=set(),
            detokenize=detok,
            generated_log_probs=[-0.5],
            generated_top=[{"d": -0.5}],
            prompt_log_probs=[-1.0],
            prompt_top=[{"b": -1.0}],
        )
    with pytest.raises(ValueError, match="fewer generated log-probabilities"):
        build_result(
            echo,
            tokens=[3],
            key=sampling_fields(echo, max_context=9),
            eos_ids=set(),
            detokenize=detok,
            generated_log_probs=[],
        )


# -- checks on the CPU and serving on a GPU ------------------------------------------------


def test_nemo2_directory_on_cpu_names_the_missing_gpu(tmp_path: Path) -> None:
    ckpt = tmp_path / "nemo2"
    (ckpt / "context").mkdir(parents=True)
    (ckpt / "weights").mkdir()
    (ckpt / "context" / "model.yaml").write_text("config:\n  seq_length: 512\n  num_layers: 2\n")
    with pytest.raises((HardwareError, MissingExtraError)) as info:
        NemoEngine.load(EngineSpec(engine="nemo", path=str(ckpt)), model_name="tiny")
    message = str(info.value)
    assert "\n" not in message and ("CUDA GPU" in message or "pip install" in message)


def _gpu_ready() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available() and importlib.util.find_spec("nemo") is not None


@pytest.mark.slow
@pytest.mark.skipif(
    not _gpu_ready() or not os.environ.get("NEMO_EVAL_NEMO2_CHECKPOINT"),
    reason="needs a CUDA GPU and `pip install 'nemo-eval[nemo]'`, and a small NeMo 2 "
    "checkpoint directory in $NEMO_EVAL_NEMO2_CHECKPOINT",
)
def test_nemo2_checkpoint_serves_chat_and_echo_on_gpu(tmp_path: Path) -> None:
    import requests

    from nemo_eval.api import deploy

    checkpoint = os.environ["NEMO_EVAL_NEMO2_CHECKPOINT"]
    with deploy(
        nemo_checkpoint=checkpoint,
        serving_backend="embedded",
        server_port=0,
        run_dir=tmp_path / "run",
    ) as handle:
        chat = requests.post(
            f"{handle.url}/v1/chat/completions",
            json={
                "messages": [{"role": "user", "content": "What is 2+3?"}],
                "max_tokens": 32,
                "temperature": 0,
            },
            timeout=300,
        ).json()
        assert "5" in chat["choices"][0]["message"]["content"]
        echo = requests.post(
            f"{handle.url}/v1/completions",
            json={
                "prompt": "The capital of France is Paris",
                "max_tokens": 1,
                "temperature": 0,
                "logprobs": 1,
                "echo": True,
            },
            timeout=300,
        ).json()
        logprobs = echo["choices"][0]["logprobs"]
        assert logprobs["token_logprobs"][0] is None
        assert all(v <= 0 for v in logprobs["token_logprobs"][1:])
        assert len(logprobs["tokens"]) == len(logprobs["token_logprobs"])
