"""Field mappings from the local dataset files to the Hugging Face layouts lm-eval's tasks read.

Loaded by lm-evaluation-harness through ``process_docs: !function parity_docs.<name>`` in the
task YAMLs of this folder. Each function only renames or regroups fields; prompts, targets and
metrics stay those of lm-eval's own task YAML (``include:``d). Runs inside lm-eval's virtualenv,
so it imports nothing from this workspace.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import datasets


def arc_docs(dataset: datasets.Dataset) -> datasets.Dataset:
    """ARC-V1-Feb2018 jsonl (``question.stem``, ``question.choices[{text,label}]``) to
    ``allenai/ai2_arc`` rows (``question``, ``choices.{text,label}``, ``answerKey``)."""

    def _row(row: dict[str, Any]) -> dict[str, Any]:
        q = row["question"]
        return {
            "id": row["id"],
            "question": q["stem"],
            "choices": {
                "text": [c["text"] for c in q["choices"]],
                "label": [c["label"] for c in q["choices"]],
            },
            "answerKey": row["answerKey"],
        }

    return dataset.map(_row, remove_columns=dataset.column_names)


def mmlu_docs(dataset: datasets.Dataset) -> datasets.Dataset:
    """MMLU CSV with a header (``question,choice0..choice3,answer``, 0-based answer) to
    ``cais/mmlu`` rows (``question``, ``choices`` list, ``answer`` int)."""

    def _row(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "question": row["question"],
            "choices": [row[f"choice{i}"] for i in range(4)],
            "answer": int(row["answer"]),
        }

    return dataset.map(_row, remove_columns=dataset.column_names)


def _lm_eval_hellaswag_process_docs():
    """lm-eval's own ``hellaswag/utils.py:process_docs``, next to this file via the
    ``lm_eval_tasks`` link (the folder has no ``__init__.py``, so it is loaded by path)."""
    path = Path(__file__).resolve().parent / "lm_eval_tasks" / "hellaswag" / "utils.py"
    spec = importlib.util.spec_from_file_location("lm_eval_hellaswag_utils", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load lm-eval's HellaSwag utils from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.process_docs


def split_context(line: str) -> dict[str, str]:
    """``activity_label: ctx`` of the derived export into the canonical fields.

    The export joined ``ctx_a + " " + ctx_b``; the split is lost. Canonical ``ctx_b`` is the
    trailing sentence fragment that lm-eval capitalises, so the fragment after the last ". "
    is taken as ``ctx_b`` when it starts in lower case (the same guess the nemo-evaluator
    loader makes), else ``ctx_b`` is empty.
    """
    label, sep, ctx = line.partition(": ")
    if not sep:
        label, ctx = "", line
    cut = ctx.rfind(". ")
    if cut >= 0 and ctx[cut + 2 : cut + 3].islower():
        return {"activity_label": label, "ctx_a": ctx[: cut + 1], "ctx_b": ctx[cut + 2 :]}
    return {"activity_label": label, "ctx_a": ctx, "ctx_b": ""}


def hellaswag_docs(dataset: datasets.Dataset) -> datasets.Dataset:
    """The derived text export (one ``text`` row per line, 6 lines per item: context line,
    gold label, 4 endings) to ``Rowan/hellaswag`` rows, then lm-eval's own ``process_docs``."""
    lines = dataset["text"]
    if len(lines) % 6:
        raise ValueError(f"hellaswag export: {len(lines)} lines is not a multiple of 6")
    rows = []
    for start in range(0, len(lines), 6):
        ctx_line, label, *endings = lines[start : start + 6]
        rows.append({**split_context(ctx_line), "label": label, "endings": endings})
    return _lm_eval_hellaswag_process_docs()(datasets.Dataset.from_list(rows))
