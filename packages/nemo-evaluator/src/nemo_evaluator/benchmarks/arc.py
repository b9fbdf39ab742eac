"""ARC-Easy and ARC-Challenge as lm-evaluation-harness defines ``arc_easy``/``arc_challenge``
(log-likelihood of `` {choice}`` after ``Question: {stem}\\nAnswer:``; acc and acc_norm), plus
chat variants that ask for a letter."""

from __future__ import annotations

from typing import Any, ClassVar

from ..datasets import DatasetError, read_jsonl
from .base import GenerationRequest, LoglikelihoodRequest, Output, Request, SampleScore
from .choice_prompts import LETTERS, letter_answer, letter_prompt
from .common import SourcedBenchmark, generation_text, score_choices
from .extraction import extract_choice_letter
from .fewshot import TARGET_DELIMITER, chat_messages, completion_context, sequential_draws


def parse_arc_row(row: dict[str, Any], where: str) -> dict[str, Any]:
    """The HF ``allenai/ai2_arc`` fields from one row of the ARC-V1-Feb2018 jsonl."""
    try:
        q = row["question"]
        if isinstance(q, dict):  # release format: question.stem + question.choices
            stem, raw_choices = q["stem"], q["choices"]
            texts = [c["text"] for c in raw_choices]
            labels = [c["label"] for c in raw_choices]
        else:  # HF export format: question + choices.{text,label}
            stem, texts, labels = q, row["choices"]["text"], row["choices"]["label"]
        answer_key = row["answerKey"]
        gold = labels.index(answer_key)
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{where}: not an ARC item ({type(exc).__name__}: {exc})") from None
    return {"id": row.get("id"), "question": stem, "choices": texts, "labels": labels, "gold": gold}


def doc_to_text(doc: dict[str, Any]) -> str:
    return f"Question: {doc['question']}\nAnswer:"


class _ArcBase(SourcedBenchmark):
    family = "arc"
    subset: ClassVar[str]
    """``Easy`` or ``Challenge``."""
    default_num_fewshot = 0

    _pool: list[dict[str, Any]] | None = None

    def _read(self, split: str) -> list[dict[str, Any]]:
        name = f"ARC-{self.subset}-{split}.jsonl"
        rows = read_jsonl(self.source.path(name))
        return [parse_arc_row(r, f"arc/{name} row {i}") for i, r in enumerate(rows)]

    def _load_pool(self) -> list[dict[str, Any]]:
        if self._pool is None:
            self._pool = self._read("Train")
        return self._pool

    def load_docs(self) -> list[dict[str, Any]]:
        docs = self._read("Test")
        k = self.num_fewshot
        draws = (
            sequential_draws(len(self._load_pool()), k, len(docs), seed=self.fewshot_seed)
            if k > 0
            else [[] for _ in docs]
        )
        for i, (doc, d) in enumerate(zip(docs, draws, strict=True)):
            doc["doc_id"] = str(i)
            doc["fewshot"] = d
        return docs

    def _fewshot_docs(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        if not doc.get("fewshot"):
            return []
        pool = self._load_pool()
        return [pool[i] for i in doc["fewshot"]]


class _ArcLoglikelihood(_ArcBase):
    endpoint_types = ("completions",)

    def context(self, doc: dict[str, Any]) -> str:
        examples = [(doc_to_text(d), d["choices"][d["gold"]]) for d in self._fewshot_docs(doc)]
        return completion_context(examples, doc_to_text(doc))

    def build_requests(self, doc: dict[str, Any]) -> list[Request]:
        ctx = self.context(doc)
        return [LoglikelihoodRequest(ctx, TARGET_DELIMITER + c) for c in doc["choices"]]

    def score(self, doc: dict[str, Any], outputs: list[Output]) -> SampleScore:
        return score_choices(doc, outputs)


class _ArcChat(_ArcBase):
    endpoint_types = ("chat",)
    default_max_new_tokens = 256

    def build_requests(self, doc: dict[str, Any]) -> list[Request]:
        examples = [
            (letter_prompt(d["question"], d["choices"]), letter_answer(d["gold"]))
            for d in self._fewshot_docs(doc)
        ]
        messages = chat_messages(examples, letter_prompt(doc["question"], doc["choices"]))
        return [GenerationRequest(messages=messages, **self.generation_kwargs())]

    def score(self, doc: dict[str, Any], outputs: list[Output]) -> SampleScore:
        letters = LETTERS[: len(doc["choices"])]
        picked = extract_choice_letter(generation_text(outputs), letters)
        target = letters[doc["gold"]]
        return SampleScore(
            doc_id=doc["doc_id"],
            metrics={"exact_match": {"exact_match": 1.0 if picked == target else 0.0}},
            extracted=picked,
            target=target,
        )


class ArcEasy(_ArcLoglikelihood):
    name = "arc_easy"
    harness_task = "arc_easy"
    subset = "Easy"
    description = "AI2 ARC-Easy test, log-likelihood multiple choice (acc, acc_norm)"


class ArcChallenge(_ArcLoglikelihood):
    name = "arc_challenge"
    harness_task = "arc_challenge"
    subset = "Challenge"
    description = "AI2 ARC-Challenge test, log-likelihood multiple choice (acc, acc_norm)"


class ArcEasyChat(_ArcChat):
    name = "arc_easy_chat"
    subset = "Easy"
    description = "ARC-Easy on a chat endpoint: answer with a letter (exact match)"


class ArcChallengeChat(_ArcChat):
    name = "arc_challenge_chat"
    subset = "Challenge"
    description = "ARC-Challenge on a chat endpoint: answer with a letter (exact match)"
