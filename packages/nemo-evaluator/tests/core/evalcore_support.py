"""Small real benchmarks over real dataset items, for the evaluate-core tests.

``tiny_gsm8k`` (generation) and ``tiny_arc`` (log-likelihood multiple choice) are real
``Benchmark`` subclasses; importing this module registers them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from shared_data import SHARED

from nemo_evaluator.benchmarks.base import (
    Benchmark,
    GenerationRequest,
    LoglikelihoodRequest,
    Output,
    SampleScore,
)
from nemo_evaluator.benchmarks.registry import BENCHMARKS, register

GSM8K_TEST = SHARED / "gsm8k" / "test.jsonl"
ARC_EASY_TEST = SHARED / "arc" / "ARC-Easy-Test.jsonl"
_ANSWER = re.compile(r"#### (\-?[0-9\.\,]+)")


def read_jsonl(path: Path, n: int) -> list[dict[str, Any]]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            out.append(json.loads(line))
            if len(out) >= n:
                break
    return out


def gsm8k_target(doc: dict[str, Any]) -> str:
    return doc["answer"].split("####")[-1].strip()


class TinyGsm8k(Benchmark):
    name = "tiny_gsm8k"
    endpoint_types = ("completions", "chat")
    description = "first items of gsm8k test, 0-shot, strict #### extraction (tests only)"
    default_max_new_tokens = 64
    size = 40

    def load_docs(self) -> list[dict[str, Any]]:
        n = int(self.params.extra.get("tiny_size", self.size))
        return [{**d, "doc_id": str(i)} for i, d in enumerate(read_jsonl(GSM8K_TEST, n))]

    def build_requests(self, doc: dict[str, Any]) -> list[GenerationRequest]:
        return [
            GenerationRequest(
                prompt=f"Question: {doc['question']}\nAnswer:",
                stop=("Question:", "</s>", "<|im_end|>", "\n\n", "<extra>"),
                max_tokens=self.max_new_tokens,
                temperature=0.0,
            )
        ]

    def score(self, doc: dict[str, Any], outputs: list[Output]) -> SampleScore:
        text = outputs[0].text  # type: ignore[union-attr]
        match = _ANSWER.search(text)
        extracted = match.group(1) if match else "[invalid]"
        target = gsm8k_target(doc)
        return SampleScore(
            doc_id=doc["doc_id"],
            metrics={"exact_match": {"strict-match": float(extracted == target)}},
            extracted=extracted,
            target=target,
        )


class TinyArc(Benchmark):
    name = "tiny_arc"
    endpoint_types = ("completions",)
    description = "first items of ARC-Easy test, log-likelihood acc (tests only)"
    size = 12

    def load_docs(self) -> list[dict[str, Any]]:
        return [{**d, "doc_id": d["id"]} for d in read_jsonl(ARC_EASY_TEST, self.size)]

    def build_requests(self, doc: dict[str, Any]) -> list[LoglikelihoodRequest]:
        ctx = f"Question: {doc['question']['stem']}\nAnswer:"
        return [LoglikelihoodRequest(ctx, " " + c["text"]) for c in doc["question"]["choices"]]

    def score(self, doc: dict[str, Any], outputs: list[Output]) -> SampleScore:
        lls = [o.logprob for o in outputs]  # type: ignore[union-attr]
        labels = [c["label"] for c in doc["question"]["choices"]]
        best = max(range(len(lls)), key=lambda i: lls[i])
        gold = labels.index(doc["answerKey"])
        return SampleScore(
            doc_id=doc["doc_id"],
            metrics={"acc": {"acc": float(best == gold)}},
            extracted=labels[best],
            target=doc["answerKey"],
        )


for _cls in (TinyGsm8k, TinyArc):
    if _cls.name not in BENCHMARKS:  # imported once more under another module name
        register(_cls)


def expected_strict_match(n: int) -> float:
    """The tiny_gsm8k accuracy the gsm8k_upstream fixture gives on the first ``n`` items."""
    return sum(1 for i in range(n) if i % 3) / n
