"""HellaSwag as lm-evaluation-harness defines ``hellaswag``: validation split, its
``preprocess`` of the WikiHow tags, ``ctx_a + " " + ctx_b.capitalize()`` with the activity label,
log-likelihood of `` {ending}``, acc and acc_norm.

Two data formats are read: the canonical ``hellaswag_val.jsonl`` (rowanz/hellaswag, the same
rows as HF ``Rowan/hellaswag`` validation), preferred when present, and a derived text export
(``derived_not_canonical/hellaswag_val_full.txt.bz2``: per item the line
``activity_label: ctx``, the gold label, then four endings). The export lost the
``ctx_a``/``ctx_b`` split and was already stripped of tags, so its prompts are close to but not
byte-identical with lm-eval's; see docs/benchmarks.md.
"""

from __future__ import annotations

import re
from typing import Any

from ..datasets import DatasetError, read_jsonl, read_text
from .base import LoglikelihoodRequest, Output, Request, SampleScore
from .common import SourcedBenchmark, score_choices
from .fewshot import TARGET_DELIMITER, completion_context, sequential_draws

CANONICAL = "hellaswag_val.jsonl"
DERIVED = (
    "derived_not_canonical/hellaswag_val_full.txt.bz2",
    "derived_not_canonical/hellaswag_val_full.txt",
    "derived_not_canonical/hellaswag_val_sample.txt",
)
TRAIN = "hellaswag_train.jsonl"
_TAG = re.compile(r"\[.*?\]")


def preprocess(text: str) -> str:
    """lm-eval's HellaSwag text clean-up (WikiHow ``[title]``/``[header]``/``[step]`` tags)."""
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = _TAG.sub("", text)
    return text.replace("  ", " ")


def canonical_doc(row: dict[str, Any]) -> dict[str, Any]:
    ctx = row["ctx_a"] + " " + row["ctx_b"].capitalize()
    return {
        "query": preprocess(row["activity_label"] + ": " + ctx),
        "choices": [preprocess(e) for e in row["endings"]],
        "gold": int(row["label"]),
    }


def capitalize_last_fragment(ctx: str) -> str:
    """Upper-case the first letter after the LAST ". " when it is lower case: in the export,
    that fragment is ``ctx_b``, which lm-eval capitalises."""
    cut = ctx.rfind(". ")
    if cut >= 0 and ctx[cut + 2 : cut + 3].islower():
        return ctx[: cut + 2] + ctx[cut + 2].upper() + ctx[cut + 3 :]
    return ctx


def parse_derived(text: str, where: str) -> list[dict[str, Any]]:
    """Items of the 6-lines-per-item export. ``ctx_b.capitalize()`` is approximated by
    upper-casing the first letter of a lower-case fragment after the last full stop."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) % 6:
        raise DatasetError(f"{where}: {len(lines)} lines is not a multiple of 6 (6 per item)")
    docs: list[dict[str, Any]] = []
    for start in range(0, len(lines), 6):
        ctx_line, label, *endings = lines[start : start + 6]
        if label not in ("0", "1", "2", "3"):
            raise DatasetError(f"{where}:{start + 2}: gold label {label!r} is not 0-3")
        ctx_line = capitalize_last_fragment(ctx_line)
        docs.append(
            {
                "query": preprocess(ctx_line),
                "choices": [preprocess(e) for e in endings],
                "gold": int(label),
            }
        )
    return docs


class Hellaswag(SourcedBenchmark):
    name = "hellaswag"
    family = "hellaswag"
    endpoint_types = ("completions",)
    harness_task = "hellaswag"
    description = "HellaSwag validation, log-likelihood of the endings (acc, acc_norm)"
    default_num_fewshot = 0

    _pool: list[dict[str, Any]] | None = None
    data_format: str | None = None
    """``canonical`` or ``derived``, set by :meth:`load_docs`."""

    def _load_pool(self) -> list[dict[str, Any]]:
        if self._pool is None:
            if not self.source.exists(TRAIN):
                raise DatasetError(
                    f"hellaswag few-shot needs {TRAIN} (the canonical train split) next to "
                    f"the validation file in {self.source.root}; or run 0-shot (num_fewshot=0)"
                )
            self._pool = [canonical_doc(r) for r in read_jsonl(self.source.path(TRAIN))]
        return self._pool

    def _read_validation(self) -> list[dict[str, Any]]:
        src = self.source
        if src.exists(CANONICAL):
            path = src.path(CANONICAL)
            self.data_format = "canonical"
            try:
                return [canonical_doc(r) for r in read_jsonl(path)]
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise DatasetError(f"{path}: not HellaSwag jsonl ({exc})") from None
        for name in DERIVED:
            if (src.root / name).is_file():
                self.data_format = "derived"
                return parse_derived(read_text(src.path(name)), str(src.root / name))
        raise DatasetError(
            f"no HellaSwag validation data in {src.root} (looked for {CANONICAL} and "
            f"{DERIVED[0]}); {src.hint()}"
        )

    def load_docs(self) -> list[dict[str, Any]]:
        docs = self._read_validation()
        k = self.num_fewshot
        # lm-eval names no few-shot split for HellaSwag, so it draws k + 1 and drops the doc.
        draws = (
            sequential_draws(
                len(self._load_pool()), k, len(docs), seed=self.fewshot_seed, extra_draw=True
            )
            if k > 0
            else [[] for _ in docs]
        )
        for i, (doc, d) in enumerate(zip(docs, draws, strict=True)):
            doc["doc_id"] = str(i)
            doc["fewshot"] = d
        return docs

    def describe_dataset(self) -> dict[str, Any]:
        info = super().describe_dataset()
        info["format"] = self.data_format
        return info

    def build_requests(self, doc: dict[str, Any]) -> list[Request]:
        examples = []
        if doc.get("fewshot"):
            pool = self._load_pool()
            examples = [
                (pool[i]["query"], pool[i]["choices"][pool[i]["gold"]]) for i in doc["fewshot"]
            ]
        ctx = completion_context(examples, doc["query"])
        return [LoglikelihoodRequest(ctx, TARGET_DELIMITER + c) for c in doc["choices"]]

    def score(self, doc: dict[str, Any], outputs: list[Output]) -> SampleScore:
        return score_choices(doc, outputs)
