"""GSM8K as lm-evaluation-harness defines ``gsm8k`` (version 3): 5-shot from train,
``Question: ...\\nAnswer:``, strict-match and flexible-extract exact match."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from ..datasets import DatasetError, read_jsonl
from .base import GenerationRequest, Output, Request, SampleScore
from .common import SourcedBenchmark, generation_text
from .extraction import RegexFilter, exact_match
from .fewshot import chat_messages, completion_context, sequential_draws

STOP_SEQUENCES = ("Question:", "</s>", "<|im_end|>")
STRICT = RegexFilter(r"#### (\-?[0-9\.\,]+)")
FLEXIBLE = RegexFilter(r"(-?[$0-9.,]{2,})|(-?[0-9]+)", group_select=-1)
EXACT_MATCH_OPTIONS: dict[str, Any] = {
    "regexes_to_ignore": tuple(re.compile(p) for p in (",", r"\$", r"(?s).*#### ", r"\.$")),
    "ignore_case": True,
    "ignore_punctuation": False,
}


def doc_to_text(doc: dict[str, Any]) -> str:
    return f"Question: {doc['question']}\nAnswer:"


def final_answer(answer: str) -> str:
    """The number after ``#### `` in a reference solution."""
    return answer.split("#### ")[-1].strip()


class _Gsm8kBase(SourcedBenchmark):
    family = "gsm8k"
    harness_task = "gsm8k"
    default_num_fewshot = 5
    default_max_new_tokens = 256
    chat: ClassVar[bool] = False

    _pool: list[dict[str, Any]] | None = None

    def _load_pool(self) -> list[dict[str, Any]]:
        if self._pool is None:
            self._pool = _checked(read_jsonl(self.source.path("train.jsonl")), "train.jsonl")
        return self._pool

    def load_docs(self) -> list[dict[str, Any]]:
        test = _checked(read_jsonl(self.source.path("test.jsonl")), "test.jsonl")
        k = self.num_fewshot
        draws = (
            sequential_draws(len(self._load_pool()), k, len(test), seed=self.fewshot_seed)
            if k > 0
            else [[] for _ in test]
        )
        return [
            {"doc_id": str(i), "question": row["question"], "answer": row["answer"], "fewshot": d}
            for i, (row, d) in enumerate(zip(test, draws, strict=True))
        ]

    def _examples(self, doc: dict[str, Any]) -> list[tuple[str, str]]:
        if not doc.get("fewshot"):
            return []
        pool = self._load_pool()
        return [(doc_to_text(pool[i]), pool[i]["answer"]) for i in doc["fewshot"]]

    def build_requests(self, doc: dict[str, Any]) -> list[Request]:
        examples = self._examples(doc)
        kwargs = self.generation_kwargs()
        if self.chat:
            messages = chat_messages(examples, doc_to_text(doc))
            return [GenerationRequest(messages=messages, stop=STOP_SEQUENCES, **kwargs)]
        prompt = completion_context(examples, doc_to_text(doc))
        return [GenerationRequest(prompt=prompt, stop=STOP_SEQUENCES, **kwargs)]

    def score(self, doc: dict[str, Any], outputs: list[Output]) -> SampleScore:
        text = generation_text(outputs)  # already cut at STOP_SEQUENCES by the client
        strict = STRICT.apply(text)
        flexible = FLEXIBLE.apply(text)
        reference = doc["answer"]
        return SampleScore(
            doc_id=doc["doc_id"],
            metrics={
                "exact_match": {
                    "strict-match": exact_match(strict, reference, **EXACT_MATCH_OPTIONS),
                    "flexible-extract": exact_match(flexible, reference, **EXACT_MATCH_OPTIONS),
                }
            },
            extracted={"strict-match": strict, "flexible-extract": flexible},
            target=final_answer(reference),
        )


def _checked(rows: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    for i, row in enumerate(rows):
        if not isinstance(row.get("question"), str) or not isinstance(row.get("answer"), str):
            raise DatasetError(f"gsm8k/{name} row {i}: needs string fields question and answer")
    return rows


class Gsm8k(_Gsm8kBase):
    name = "gsm8k"
    endpoint_types = ("completions",)
    description = "Grade-school math, 5-shot, exact match of the final number"


class Gsm8kChat(_Gsm8kBase):
    name = "gsm8k_chat"
    endpoint_types = ("chat",)
    description = "GSM8K on a chat endpoint, few-shot examples as user/assistant turns"
    chat = True
