# ruff: noqa: RUF001  (the prompts hold look-alike characters on purpose)
"""Helpers of the non-ASCII log-likelihood tests: the items, the reference, the spellings.

The reference is a plain transformers forward pass in float32 of the same weights; the
tokens it sums are chosen by their bytes from the tokenizer's own vocabulary (the tokens that
hold any byte of the continuation), independently of the server and the client.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flask
import requests

from nemo_evaluator.core.token_spans import token_bytes
from nvidia_eval_commons.api.api_dataclasses import ConfigParams
from nvidia_eval_commons.wsgi_server import WsgiServer


@dataclass(frozen=True)
class Item:
    name: str
    context: str
    continuation: str


def _non_ascii(*texts: str) -> bool:
    return not all(t.isascii() for t in texts)


def benchmark_items(name: str, data_dir: Path) -> list[Item]:
    """Every (context, continuation) of the benchmark's documents that holds non-ASCII text."""
    from nemo_evaluator.benchmarks.registry import get_benchmark

    bench = get_benchmark(name)(params=ConfigParams(), data_dir=data_dir)
    items = []
    for doc in bench.load_docs():
        reqs = bench.build_requests(doc)
        if any(_non_ascii(r.context, r.continuation) for r in reqs):
            doc_id = doc.get("doc_id", doc.get("ind", len(items)))
            items += [
                Item(f"{name}:{doc_id}/{k}", r.context, r.continuation) for k, r in enumerate(reqs)
            ]
    return items


# Chinese, Arabic, accented Latin, emoji, math symbols and control characters; continuations
# of one and of several tokens, characters split across tokens on both sides of the boundary.
HANDMADE = [
    Item("zh", "问题：中国的首都是哪里？\n答案：", "北京"),
    Item("zh-long", "日本語と中国語の違いは", "文字の使い方にあります。"),
    Item("ar", "السؤال: ما هي عاصمة مصر؟ الجواب:", " القاهرة"),
    Item("accents", "Où est la bibliothèque ? Réponse :", " à côté de l'église"),
    Item("de", "Die Straße heißt", " Große Bäckergasse"),
    Item("emoji", "My favourite animal is the", " 🐈‍⬛ cat 😺"),
    Item("emoji-flag", "Flag of France: ", "🇫🇷"),
    Item("math", "∀x ∃y: x ≤ y ⊃", " ¬(y < x) ≡ ⊤"),
    Item("math-one", "Let Σ be the alphabet; then Σ* ", "∪"),
    Item("split-left", "The word is ∃", " A"),
    Item("split-right", "The symbol is", "∃"),
    Item("control", "tab\there\x0bnul\x00and\x9d", " end\x7f"),
    Item("replacement-char", "a real \ufffd in the text", " \ufffd!"),
    Item("zwj", "family: 👩‍👩‍👧", "‍👦"),
]


def byte_table() -> dict[str, int]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return {c: b for b, c in bytes_to_unicode().items()}


def reference_token_set(tok: Any, table: dict[str, int], item: Item) -> tuple[list[int], int]:
    """Token ids of the prompt and the index of the first token holding continuation bytes."""
    ids = list(tok(item.context + item.continuation)["input_ids"])
    pieces = [bytes(table[c] for c in p) for p in tok.convert_ids_to_tokens(ids)]
    assert b"".join(pieces) == (item.context + item.continuation).encode(), item.name
    boundary, end = len(item.context.encode()), 0
    for i, piece in enumerate(pieces):
        end += len(piece)
        if end > boundary:
            return ids, i
    raise AssertionError(f"{item.name}: no token holds the continuation")


def reference_logprobs(
    model: Any, tok: Any, items: Sequence[Item], *, batch: int = 8
) -> list[float]:
    """Sum of the continuation tokens' log-probabilities, batched, right-padded.

    Each prompt but its last token goes through the model (the causal logits of those
    positions are all a prompt needs); items with the same such input (MMLU's four letters)
    share one pass. Only the positions that predict a continuation token go through the
    output layer, and only the chosen tokens' floats are kept: memory does not grow with the
    vocabulary or the prompts' length.
    """
    import torch

    table = byte_table()
    prepared = [reference_token_set(tok, table, it) for it in items]
    # per distinct input: the (position, next token) pairs some item sums
    wanted: dict[tuple[int, ...], set[tuple[int, int]]] = {}
    for ids, first in prepared:
        pairs = wanted.setdefault(tuple(ids[:-1]), set())
        pairs.update((j - 1, ids[j]) for j in range(first, len(ids)))
    inputs = sorted(wanted, key=len)
    got: dict[tuple[tuple[int, ...], int, int], float] = {}
    for lo in range(0, len(inputs), batch):
        rows = inputs[lo : lo + batch]
        width = max(len(r) for r in rows)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, seq in enumerate(rows):
            ids[r, : len(seq)] = torch.tensor(seq)
            mask[r, : len(seq)] = 1
        with torch.inference_mode():
            hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
            for r, seq in enumerate(rows):
                pairs = sorted(wanted[seq])
                at = torch.tensor([pos for pos, _ in pairs])
                targets = torch.tensor([t for _, t in pairs])
                logp = torch.log_softmax(model.lm_head(hidden[r, at]).float(), -1)
                chosen = logp.gather(-1, targets[:, None])[:, 0].tolist()
                for (pos, t), value in zip(pairs, chosen, strict=True):
                    got[seq, pos, t] = value
    return [
        sum(got[tuple(seq[:-1]), j - 1, seq[j]] for j in range(first, len(seq)))
        for seq, first in prepared
    ]


def echo_logprobs(
    url: str, items: Sequence[Item], *, batch: int = 4, from_context: bool = False
) -> list[dict[str, Any]]:
    """The ``logprobs`` object of each item's echo, prompts sent in lists as the client does;
    ``from_context``: with ``echo_logprobs_from`` at each context's end, as the evaluator
    sends them to a nemo-eval server (the context's tokens come back null)."""
    out: list[dict[str, Any]] = []
    for lo in range(0, len(items), batch):
        chunk = items[lo : lo + batch]
        resp = requests.post(
            f"{url}/v1/completions",
            json={
                "prompt": [it.context + it.continuation for it in chunk],
                "max_tokens": 0,
                "echo": True,
                "logprobs": 1,
                "temperature": 0.0,
                **(
                    {"echo_logprobs_from": [len(it.context) for it in chunk]}
                    if from_context
                    else {}
                ),
            },
            timeout=600,
        )
        assert resp.status_code == 200, resp.text
        choices = sorted(resp.json()["choices"], key=lambda c: c["index"])
        out += [c["logprobs"] for c in choices]
    return out


# -- other servers' spellings of tokens that hold part of a character -------------------------


def respell(logprobs: dict[str, Any], style: str) -> dict[str, Any]:
    """Our echo as another server would write it (``fffd``, ``vllm``, ``bytes``; offsets or not)."""
    pieces = [token_bytes(t) or b"" for t in logprobs["tokens"]]
    kind, _, offsets_mode = style.partition("-")
    if kind == "fffd":  # each token decoded alone: U+FFFD for a partial character
        tokens = [p.decode("utf-8", "replace") for p in pieces]
    elif kind == "vllm":  # incremental: "" until the text so far ends on a whole character
        tokens, done, seen = [], "", b""
        for p in pieces:
            seen += p
            text = seen.decode("utf-8", "replace")
            if text.endswith("\ufffd") and not seen.endswith("\ufffd".encode()):
                tokens.append("")
                continue
            tokens.append(text[len(done) :])
            done = text
    else:
        tokens = list(logprobs["tokens"])
    out = dict(logprobs, tokens=tokens)
    if offsets_mode == "nooffsets":
        out.pop("text_offset")
    else:  # cumulative lengths of the spelled tokens, as such servers compute them
        pos, offsets = 0, []
        for t in tokens:
            offsets.append(pos)
            pos += len(t)
        out["text_offset"] = offsets if kind != "bytes" else logprobs["text_offset"]
    return out


@contextmanager
def respelling_server(upstream: str, style: str, *, cache: dict[str, Any]) -> Iterator[str]:
    """A real HTTP server on loopback that forwards completions and respells the echo.

    ``cache`` keeps the upstream's answers by request body, so several spellings of the same
    items cost one model call each.
    """
    app = flask.Flask("respell")

    @app.post("/v1/completions")
    def completions() -> Any:
        key = json.dumps(flask.request.json, sort_keys=True)
        if key not in cache:
            resp = requests.post(
                f"{upstream}/v1/completions",
                data=key,
                timeout=600,
                headers={"Content-Type": "application/json"},
            )
            assert resp.status_code == 200, resp.text
            cache[key] = resp.json()
        data = copy.deepcopy(cache[key])
        for choice in data.get("choices", []):
            if choice.get("logprobs"):
                choice["logprobs"] = respell(choice["logprobs"], style)
        return flask.jsonify(data)

    with WsgiServer(app, threads=4, name="respelling-proxy") as server:
        yield server.url
