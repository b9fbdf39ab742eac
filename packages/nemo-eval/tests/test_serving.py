"""Each backend serves SmolLM2 on CPU: answers, the openai client, echo log-probabilities, batching."""

from __future__ import annotations

import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = [pytest.mark.model]


def test_chat_answers_two_plus_three(served: Any) -> None:
    resp = requests.post(
        f"{served.url}/v1/chat/completions",
        json={
            "messages": [{"role": "user", "content": "What is 2+3?"}],
            "max_tokens": 30,
            "temperature": 0,
        },
        timeout=120,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert "5" in body["choices"][0]["message"]["content"]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_openai_client(served: Any) -> None:
    openai = pytest.importorskip("openai", reason="the dev group installs openai (uv sync)")
    client = openai.OpenAI(
        base_url=f"{served.url}/v1", api_key="unused", max_retries=0, timeout=120
    )
    chat = client.chat.completions.create(
        model="anything",
        messages=[{"role": "user", "content": "What is 2+3?"}],
        max_tokens=30,
        temperature=0,
    )
    assert "5" in (chat.choices[0].message.content or "")
    comp = client.completions.create(
        model="anything", prompt="1, 2, 3,", max_tokens=4, temperature=0
    )
    assert comp.choices[0].text.strip().startswith("4")
    assert [m.id for m in client.models.list().data] == [served.model_name]


def test_echo_logprobs_match_forward_pass(served: Any, reference_model: tuple[Any, Any]) -> None:
    import torch

    tok, model = reference_model
    context, continuation = (
        "Question: What is the capital of France?\nAnswer:",
        " The capital is Paris",
    )
    ids = tok(context + continuation)["input_ids"]
    ctxlen = len(tok(context)["input_ids"])
    assert len(ids) - ctxlen >= 3  # a multi-token continuation
    resp = requests.post(
        f"{served.url}/v1/completions",
        json={
            "prompt": [ids],
            "max_tokens": 1,
            "temperature": 0,
            "logprobs": 1,
            "echo": True,
            "seed": 1234,
        },
        timeout=120,
    )
    assert resp.status_code == 200, resp.text
    choice = resp.json()["choices"][0]
    lp = choice["logprobs"]
    assert len(lp["token_logprobs"]) == len(ids) + 1
    assert lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float()
    direct = torch.log_softmax(logits, -1)[:-1].gather(-1, torch.tensor(ids[1:])[:, None])[:, 0]
    served_lp = torch.tensor(lp["token_logprobs"][1 : len(ids)])
    assert torch.allclose(served_lp, direct, atol=1e-4), (served_lp - direct).abs().max()
    # what lm-evaluation-harness's local-completions computes from this response
    continuation_lp = sum(lp["token_logprobs"][ctxlen:-1])
    assert abs(continuation_lp - float(direct[ctxlen - 1 :].sum())) < 1e-3
    for tok_text, offset in zip(lp["tokens"], lp["text_offset"], strict=True):
        assert choice["text"][offset : offset + len(tok_text)] == tok_text
    assert choice["text"].startswith(context + continuation)


PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "Once upon a time",
    "The three primary colors are",
    "Water boils at",
    "My favourite fruit is",
    "Q: What is 7 times 6?\nA:",
    "The quick brown fox",
]


def _complete(url: str, prompt: str) -> str:
    resp = requests.post(
        f"{url}/v1/completions",
        json={"prompt": prompt, "max_tokens": 12, "temperature": 0},
        timeout=300,
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["choices"][0]["text"])


def test_concurrent_requests_equal_sequential(served: Any) -> None:
    one_at_a_time = [_complete(served.url, p) for p in PROMPTS]
    with ThreadPoolExecutor(max_workers=len(PROMPTS)) as pool:
        together = list(pool.map(lambda p: _complete(served.url, p), PROMPTS))
    assert together == one_at_a_time
    assert len(set(one_at_a_time)) > 1


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _children_of(root: int) -> set[int]:
    """Live descendants of ``root`` from /proc (Linux), with their parent links."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if fields[0] != "Z":  # zombies are gone already, only not reaped
            parents[int(stat.parent.name)] = int(fields[1])
    # multiprocessing's resource tracker (started once per interpreter by Triton's shared
    # memory) is no server: it holds no port and ends with this interpreter
    parents = {
        pid: ppid
        for pid, ppid in parents.items()
        if b"multiprocessing.resource_tracker" not in _cmdline(pid)
    }
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def test_end_of_sequence_is_the_one_generated_token(served: Any) -> None:
    """lm-eval's local-completions asks for max_tokens=1 with echo and drops the last token:
    when the model would stop, the end-of-sequence token must be that token (as OpenAI's API
    reports it), or the continuation's last token would be dropped instead."""
    prompt = (
        "Question: Which piece of safety equipment is used to keep mold spores from entering "
        "the respiratory system?\nAnswer: breathing mask"
    )
    body = {"prompt": prompt, "max_tokens": 1, "echo": True, "logprobs": 1, "temperature": 0}
    resp = requests.post(f"{served.url}/v1/completions", json=body, timeout=120).json()
    choice = resp["choices"][0]
    lp = choice["logprobs"]
    prompt_tokens = resp["usage"]["prompt_tokens"]
    # one generated token after the prompt, whatever it is, with a real log-probability
    assert len(lp["tokens"]) == prompt_tokens + 1
    assert isinstance(lp["token_logprobs"][-1], float)
    assert resp["usage"]["completion_tokens"] == 1
    # SmolLM2 ends its answer here: the end-of-sequence token is reported, never in the text
    assert choice["finish_reason"] == "stop"
    assert choice["text"] == prompt
    assert lp["tokens"][-2:] == [" mask", "<|im_end|>"]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux only)")
def test_stop_leaves_no_process_or_port(served: Any) -> None:
    """Runs last for each backend (pytest keeps file order per fixture parameter)."""
    before = _children_of(os.getpid())
    port = served.port
    served.stop()
    deadline = time.monotonic() + 60
    left = before & _children_of(os.getpid())
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = before & _children_of(os.getpid())
    assert not left, {pid: _cmdline(pid)[:80] for pid in left}
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/v1/health", timeout=5)
    with socket.socket() as sock:
        # SO_REUSEADDR tolerates closed connections in TIME_WAIT, not a listening socket
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
