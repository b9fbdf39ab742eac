"""The rows of report.html's sample table, built from ``samples.jsonl`` records.

Each prompt is shown as it was sent, with the question first:

- a completions prompt is split at its blank lines; when the last block ends with an answer cue
  (a line ending in ``:``, such as ``Answer:``) and every earlier block answers that cue (``Answer:
  12``), the earlier blocks are the few-shot examples (an optional first block is the task's
  description) and are folded under the question; otherwise the whole prompt is the question;
- a chat prompt is a list of turns: the last user turn is the question, the turns before it (system
  message, few-shot pairs) are folded, each shown with its role;
- a log-likelihood prompt is a context with choices: each choice is listed with its
  log-likelihood, and the chosen and the gold choices are marked in words.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from nvidia_eval_commons.api.layout import headline_key

_DIGITS = 4


def rounded(value: Any) -> Any:
    """Floats rounded to four decimals, inside lists and dicts too (-25.880000000000003: -25.88)."""
    if isinstance(value, float):
        return round(value, _DIGITS)
    if isinstance(value, list):
        return [rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and all(isinstance(v, (str, int, float)) for v in value.values()):
        return "\n".join(f"{k}: {_text(rounded(v))}" for k, v in value.items())
    return json.dumps(rounded(value), ensure_ascii=False)


def split_fewshot(prompt: str) -> tuple[str, str, int]:
    """``(question, folded part, number of few-shot examples)`` of a completions prompt."""
    blocks = prompt.split("\n\n")
    if len(blocks) < 2:
        return prompt, "", 0
    question = blocks[-1]
    cue = question.rstrip().rsplit("\n", 1)[-1].strip()
    if not cue.endswith(":"):
        return prompt, "", 0

    def answers_cue(block: str) -> bool:
        """Whether a line of ``block``, stripped, starts with the cue and goes on past it
        ("Answer: 12"). Looks only at the cue's occurrences (report.html splits every
        prompt; a loop over every line of every block cost more than the rest of a row)."""
        pos = block.find(cue)
        while pos != -1:
            start = block.rfind("\n", 0, pos) + 1
            end = block.find("\n", pos)
            rest = block[pos + len(cue) : len(block) if end == -1 else end]
            if (start == pos or block[start:pos].isspace()) and not rest.isspace() and rest:
                return True
            pos = block.find(cue, pos + 1)
        return False

    examples = list(blocks[1:-1])
    head = blocks[0]
    if answers_cue(head):
        examples.insert(0, head)
    if not all(answers_cue(b) for b in examples):
        return prompt, "", 0
    return question, "\n\n".join(blocks[:-1]), len(examples)


def _chat(turns: list[Any]) -> tuple[str, list[dict[str, str]], int]:
    """``(question, folded turns, number of few-shot examples)`` of a chat prompt."""
    clean = [
        {"role": str(t.get("role", "?")), "content": _text(t.get("content"))}
        for t in turns
        if isinstance(t, Mapping)
    ]
    last_user = max((i for i, t in enumerate(clean) if t["role"] == "user"), default=-1)
    if last_user < 0:
        return "", clean, 0
    folded = clean[:last_user]
    examples = sum(1 for t in folded if t["role"] == "assistant")
    return clean[last_user]["content"], folded, examples


def _choices(
    prompt: Mapping[str, Any], response: Any, extracted: Any, target: Any, headline: str | None
) -> tuple[list[dict[str, Any]], str, str]:
    """The choices with their marks, the chosen choice's text and the gold choice's text.

    ``extracted`` maps a metric (``acc``, ``acc_norm``) to the index it chose; the answer shown
    is the one chosen by the headline metric.
    """
    texts = [_text(c) for c in prompt.get("continuations") or []]
    ext = extracted if isinstance(extracted, Mapping) else {}
    lls = ext.get("loglikelihoods")
    if not isinstance(lls, list) and isinstance(response, list):
        lls = [r[0] if isinstance(r, list) and r else None for r in response]
    greedy = [
        bool(r[1]) if isinstance(r, list) and len(r) > 1 else None
        for r in (response if isinstance(response, list) else [])
    ]
    golds = target if isinstance(target, list) else [target]
    picks = {m: i for m, i in ext.items() if isinstance(i, int) and not isinstance(i, bool)}
    rows = []
    for i, text in enumerate(texts):
        by = [m for m, index in picks.items() if index == i]
        marks = [f"chosen by {', '.join(by)}"] if by else []
        if i in golds:
            marks.append("gold")
        ll = lls[i] if isinstance(lls, list) and i < len(lls) else None
        rows.append(
            {
                "t": text,
                "ll": rounded(ll),
                "greedy": greedy[i] if i < len(greedy) else None,
                "marks": marks,
            }
        )

    def pick(index: Any) -> str:
        return texts[index] if isinstance(index, int) and 0 <= index < len(texts) else _text(index)

    metric = (headline or "").split(".")[0]
    chosen = picks.get(metric, next(iter(picks.values()), None))
    gold_text = " | ".join(pick(g) for g in golds)
    return rows, pick(chosen) if chosen is not None else "", gold_text


def sample_row(sample: Mapping[str, Any]) -> dict[str, Any]:
    """One row of the sample table (short keys: the page embeds every row)."""
    scores = sample.get("score") or {}
    named = {
        (metric if name == metric else f"{metric}.{name}"): value
        for metric, by_name in scores.items()
        for name, value in (by_name or {}).items()
    }
    key = headline_key(named)
    value = float(named[key]) if key is not None else None
    error = sample.get("error")
    status = "error" if error else ("correct" if value else "wrong")
    row: dict[str, Any] = {
        "id": str(sample.get("doc_id")),
        "st": status,
        "v": rounded(value),
        "scores": {k: rounded(float(v)) for k, v in named.items()},
        "grp": sample.get("group") or "",
        "err": error or "",
        "lat": rounded(sample.get("latency_s")),
        "hit": bool(sample.get("cache_hit")),
        "resp": _text(sample.get("response")),
        "ext": _text(sample.get("extracted")),
        "tgt": _text(sample.get("target")),
    }
    prompt = sample.get("prompt")
    if isinstance(prompt, Mapping) and "context" in prompt:
        question, folded, shots = split_fewshot(_text(prompt.get("context")))
        choices, chosen, gold = _choices(
            prompt, sample.get("response"), sample.get("extracted"), sample.get("target"), key
        )
        row.update(kind="choices", q=question, pre=folded, shots=shots, choices=choices)
        row.update(ext=chosen, tgt=gold, resp="")
    elif isinstance(prompt, list):
        question, turns, shots = _chat(prompt)
        row.update(kind="chat", q=question, turns=turns, shots=shots)
    else:
        question, folded, shots = split_fewshot(_text(prompt))
        row.update(kind="text", q=question, pre=folded, shots=shots)
    return row


__all__ = ["rounded", "sample_row", "split_fewshot"]
