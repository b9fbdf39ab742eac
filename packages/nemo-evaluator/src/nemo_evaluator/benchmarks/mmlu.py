"""MMLU as lm-evaluation-harness defines ``mmlu`` (default template): 57 subjects with the
subject header, log-likelihood of `` A`` .. `` D``, acc per subject, per category (lm-eval's
``mmlu_stem``/``mmlu_humanities``/``mmlu_social_sciences``/``mmlu_other``) and overall, both
size-weighted; 0-shot by default, ``num_fewshot`` from the first dev examples. Plus
``mmlu_chat``, which asks for the letter."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, ClassVar

from nvidia_eval_commons.api.results import ConfidenceInterval, GroupResult, TaskResult

from ..datasets import MMLU_SUBJECTS, DatasetError, read_csv_rows
from ..errors import ConfigError
from ..stats.intervals import score_intervals
from .base import (
    GenerationRequest,
    LoglikelihoodRequest,
    Output,
    Request,
    SampleScore,
    aggregate_means,
)
from .choice_prompts import LETTERS, letter_answer, letter_prompt
from .common import SourcedBenchmark, generation_text, loglikelihoods
from .extraction import extract_choice_letter
from .fewshot import TARGET_DELIMITER, chat_messages, completion_context, first_n
from .metrics import multiple_choice_scores, weighted_group

_STEM = (
    "abstract_algebra anatomy astronomy college_biology college_chemistry "
    "college_computer_science college_mathematics college_physics computer_security "
    "conceptual_physics electrical_engineering elementary_mathematics high_school_biology "
    "high_school_chemistry high_school_computer_science high_school_mathematics "
    "high_school_physics high_school_statistics machine_learning"
)
_HUMANITIES = (
    "formal_logic high_school_european_history high_school_us_history "
    "high_school_world_history international_law jurisprudence logical_fallacies "
    "moral_disputes moral_scenarios philosophy prehistory professional_law world_religions"
)
_SOCIAL = (
    "econometrics high_school_geography high_school_government_and_politics "
    "high_school_macroeconomics high_school_microeconomics high_school_psychology "
    "human_sexuality professional_psychology public_relations security_studies sociology "
    "us_foreign_policy"
)
_OTHER = (
    "business_ethics clinical_knowledge college_medicine global_facts human_aging management "
    "marketing medical_genetics miscellaneous nutrition professional_accounting "
    "professional_medicine virology"
)
CATEGORIES: dict[str, tuple[str, ...]] = {
    "stem": tuple(_STEM.split()),
    "humanities": tuple(_HUMANITIES.split()),
    "social_sciences": tuple(_SOCIAL.split()),
    "other": tuple(_OTHER.split()),
}
SUBJECT_CATEGORY: dict[str, str] = {s: c for c, subs in CATEGORIES.items() for s in subs}
HEADER = ("question", "choice0", "choice1", "choice2", "choice3", "answer")


def description(subject: str) -> str:
    return f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n"


def doc_to_text(doc: dict[str, Any]) -> str:
    lines = [doc["question"].strip()]
    lines += [f"{letter}. {choice}" for letter, choice in zip("ABCD", doc["choices"], strict=True)]
    return "\n".join(lines) + "\nAnswer:"


def read_subject_csv(rows: list[list[str]], where: str) -> list[dict[str, Any]]:
    """Rows of either MMLU CSV format: the HF export (header row, 0-based answer index) or the
    original release (no header, answer letter)."""
    if rows and tuple(rows[0]) == HEADER:
        rows = rows[1:]
    docs = []
    for i, row in enumerate(rows):
        if len(row) != 6:
            raise DatasetError(f"{where} row {i}: {len(row)} fields, expected 6")
        answer = row[5].strip()
        if answer in ("A", "B", "C", "D"):
            gold = "ABCD".index(answer)
        elif answer in ("0", "1", "2", "3"):
            gold = int(answer)
        else:
            raise DatasetError(f"{where} row {i}: answer {answer!r} is not 0-3 or A-D")
        docs.append({"question": row[0], "choices": row[1:5], "gold": gold})
    return docs


class _MmluBase(SourcedBenchmark):
    family = "mmlu"
    default_num_fewshot = 0
    metric: ClassVar[tuple[str, str]]

    _dev: dict[str, list[dict[str, Any]]]

    def subjects(self) -> list[str]:
        chosen = self.params.extra.get("subjects")
        if chosen:
            names = [chosen] if isinstance(chosen, str) else list(chosen)
            unknown = [s for s in names if s not in SUBJECT_CATEGORY]
            if unknown:
                raise ConfigError(f"unknown MMLU subjects {unknown}; valid: {MMLU_SUBJECTS}")
            return names
        if self.source.kind == "sample":
            return [s for s in MMLU_SUBJECTS if (self.source.root / f"test/{s}_test.csv").is_file()]
        return list(MMLU_SUBJECTS)

    def _read(self, split: str, subject: str) -> list[dict[str, Any]]:
        name = f"{split}/{subject}_{split}.csv"
        return read_subject_csv(read_csv_rows(self.source.path(name)), f"mmlu/{name}")

    def dev(self, subject: str) -> list[dict[str, Any]]:
        if not hasattr(self, "_dev"):
            self._dev = {}
        if subject not in self._dev:
            self._dev[subject] = self._read("dev", subject)
        return self._dev[subject]

    def load_docs(self) -> list[dict[str, Any]]:
        docs: list[dict[str, Any]] = []
        k = self.num_fewshot
        for subject in self.subjects():
            shots = first_n(len(self.dev(subject)), k) if k > 0 else []
            for i, doc in enumerate(self._read("test", subject)):
                doc.update(doc_id=f"{subject}/{i}", subject=subject, fewshot=shots)
                docs.append(doc)
        return docs

    def limit_docs(
        self, docs: list[dict[str, Any]], limit: int | float | None
    ) -> list[dict[str, Any]]:
        """The limit applies per subject, as lm-eval's ``--limit`` applies per sub-task."""
        if limit is None:
            return docs
        by_subject: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for doc in docs:
            by_subject[doc["subject"]].append(doc)
        out: list[dict[str, Any]] = []
        for items in by_subject.values():
            count = math.ceil(len(items) * limit) if isinstance(limit, float) else int(limit)
            out.extend(items[:count])
        return out

    def _fewshot(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        if not doc.get("fewshot"):
            return []
        dev = self.dev(doc["subject"])
        return [dev[i] for i in doc["fewshot"]]

    def aggregate(
        self, scores: list[SampleScore], *, num_errors: int = 0
    ) -> tuple[dict[str, TaskResult], dict[str, GroupResult]]:
        """Per subject ``mmlu_<subject>``; groups ``mmlu_<category>`` and ``mmlu`` weighted by
        size with pooled stderr (lm-eval's ``weight_by_size: true``)."""
        metric, score = self.metric
        prefix = self.name
        by_subject: dict[str, list[SampleScore]] = defaultdict(list)
        for s in scores:
            by_subject[s.group or "unknown"].append(s)
        tasks = {
            f"{prefix}_{subj}": TaskResult(metrics=aggregate_means(items))
            for subj, items in sorted(by_subject.items())
        }
        groups: dict[str, GroupResult] = {}
        for category, subjects in CATEGORIES.items():
            members = {f"{prefix}_{s}": tasks[f"{prefix}_{s}"] for s in subjects if s in by_subject}
            if members:
                groups[f"{prefix}_{category}"] = weighted_group(members, metric=metric, score=score)
        if groups:
            overall = weighted_group(dict(groups), metric=metric, score=score)
            stats = overall.metrics[metric].scores[score].stats
            stats.num_errors = num_errors
            # over all items, clustered by subject (Miller 2024), beside the pooled analytic one
            values = [s.metrics[metric][score] for s in scores]
            item_subjects = [s.group or "unknown" for s in scores]
            stats.intervals = [
                ConfidenceInterval(**iv.as_dict())
                for iv in score_intervals(values, clusters=item_subjects)
            ]
            groups[prefix] = overall
        return tasks, groups


class Mmlu(_MmluBase):
    name = "mmlu"
    endpoint_types = ("completions",)
    harness_task = "mmlu"
    description = "MMLU, 57 subjects, log-likelihood of the answer letter (acc)"
    metric = ("acc", "acc")

    def build_requests(self, doc: dict[str, Any]) -> list[Request]:
        examples = [(doc_to_text(d), "ABCD"[d["gold"]]) for d in self._fewshot(doc)]
        ctx = completion_context(
            examples, doc_to_text(doc), description=description(doc["subject"])
        )
        return [LoglikelihoodRequest(ctx, TARGET_DELIMITER + letter) for letter in "ABCD"]

    def score(self, doc: dict[str, Any], outputs: list[Output]) -> SampleScore:
        lls = loglikelihoods(outputs, 4)
        metrics, pred, _ = multiple_choice_scores(lls, ["A", "B", "C", "D"], doc["gold"])
        return SampleScore(
            doc_id=doc["doc_id"],
            metrics={"acc": metrics["acc"]},
            extracted={"acc": pred, "loglikelihoods": lls},
            target=doc["gold"],
            group=doc["subject"],
        )


class MmluChat(_MmluBase):
    name = "mmlu_chat"
    endpoint_types = ("chat",)
    description = "MMLU on a chat endpoint: answer with a letter (exact match)"
    default_max_new_tokens = 256
    metric = ("exact_match", "exact_match")

    def build_requests(self, doc: dict[str, Any]) -> list[Request]:
        examples = [
            (letter_prompt(d["question"], d["choices"]), letter_answer(d["gold"]))
            for d in self._fewshot(doc)
        ]
        messages = chat_messages(
            examples,
            letter_prompt(doc["question"], doc["choices"]),
            system=description(doc["subject"]).strip(),
        )
        return [GenerationRequest(messages=messages, **self.generation_kwargs())]

    def score(self, doc: dict[str, Any], outputs: list[Output]) -> SampleScore:
        picked = extract_choice_letter(generation_text(outputs), LETTERS[:4])
        target = LETTERS[doc["gold"]]
        return SampleScore(
            doc_id=doc["doc_id"],
            metrics={"exact_match": {"exact_match": 1.0 if picked == target else 0.0}},
            extracted=picked,
            target=target,
            group=doc["subject"],
        )
