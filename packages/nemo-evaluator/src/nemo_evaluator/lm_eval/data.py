"""Offline data for lm-eval tasks: an overlay folder of task YAMLs that replace only the data
source, exactly as an air-gapped lm-eval user would write them.

lm-eval's tasks name Hugging Face datasets. For each leaf task whose data is overridden, the
overlay holds ``<task>.yaml``::

    include: /abs/path/of/lm-eval's/own/<task>.yaml    # prompts, metrics, filters: lm-eval's
    task: <task>
    dataset_path: json
    dataset_name: null
    dataset_kwargs: {data_files: {test: .../test.jsonl, ...}}

and the ``TaskManager`` is built with the overlay as its last include path, so the same task
name resolves to it (lm-eval lets a later path override an earlier one). Two sources:

- ``params.extra.lm_eval_dataset``: ``{path, name, data_files, ...}`` for every leaf task, or
  ``{<task>: {...}}`` per task; ``path``/``name`` become ``dataset_path``/``dataset_name``, the
  other keys ``dataset_kwargs``.
- The families the evaluator knows (ARC, GSM8K, HellaSwag, MMLU) from the evaluator's data
  layout (``NEMO_EVALUATOR_DATA_DIR``, ``params.extra.dataset_path``): their files are
  rewritten as JSON lines in the Hugging Face layout lm-eval's task reads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ..benchmarks.arc import parse_arc_row
from ..benchmarks.mmlu import read_subject_csv
from ..datasets import DATA_DIR_ENV, DataSource, read_csv_rows, read_jsonl, read_text
from .catalog import LeafTask, Resolved
from .errors import LmEvalTaskError

Splits = dict[str, list[dict[str, Any]]]
SPLIT_KEYS = ("training_split", "validation_split", "test_split", "fewshot_split")


def _arc(source: DataSource, name: str | None) -> Splits:
    subset = {"ARC-Easy": "Easy", "ARC-Challenge": "Challenge"}[str(name)]
    out: Splits = {}
    for split, part in (("train", "Train"), ("validation", "Dev"), ("test", "Test")):
        fname = f"ARC-{subset}-{part}.jsonl"
        if not source.exists(fname):
            continue
        rows = []
        for i, raw in enumerate(read_jsonl(source.path(fname))):
            doc = parse_arc_row(raw, f"arc/{fname} row {i}")
            rows.append(
                {
                    "id": doc["id"],
                    "question": doc["question"],
                    "choices": {"text": doc["choices"], "label": doc["labels"]},
                    "answerKey": doc["labels"][doc["gold"]],
                }
            )
        out[split] = rows
    return out


def _gsm8k(source: DataSource, name: str | None) -> Splits:
    return {
        split: [{"question": r["question"], "answer": r["answer"]} for r in read_jsonl(path)]
        for split in ("train", "test")
        if source.exists(f"{split}.jsonl") and (path := source.path(f"{split}.jsonl"))
    }


def _split_context(line: str) -> dict[str, str]:
    """``activity_label: ctx`` of the derived HellaSwag export into ``Rowan/hellaswag`` fields
    (the lost ``ctx_a``/``ctx_b`` split guessed as the native ``hellaswag`` benchmark does:
    a lower-case fragment after the last full stop is ``ctx_b``)."""
    label, sep, ctx = line.partition(": ")
    if not sep:
        label, ctx = "", line
    cut = ctx.rfind(". ")
    if cut >= 0 and ctx[cut + 2 : cut + 3].islower():
        return {"activity_label": label, "ctx_a": ctx[: cut + 1], "ctx_b": ctx[cut + 2 :]}
    return {"activity_label": label, "ctx_a": ctx, "ctx_b": ""}


def _hellaswag(source: DataSource, name: str | None) -> Splits:
    from ..benchmarks.hellaswag import CANONICAL, DERIVED, TRAIN

    out: Splits = {}
    if source.exists(TRAIN):
        out["train"] = read_jsonl(source.path(TRAIN))
    if source.exists(CANONICAL):
        out["validation"] = read_jsonl(source.path(CANONICAL))
        return out
    for fname in DERIVED:
        if (source.root / fname).is_file():
            lines = read_text(source.path(fname)).split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            rows = []
            for start in range(0, len(lines) - 5, 6):
                ctx_line, label, *endings = lines[start : start + 6]
                rows.append({**_split_context(ctx_line), "label": label, "endings": endings})
            out["validation"] = rows
            return out
    return out


def _mmlu(source: DataSource, name: str | None) -> Splits:
    out: Splits = {}
    for split in ("test", "dev"):
        fname = f"{split}/{name}_{split}.csv"
        if source.exists(fname):
            docs = read_subject_csv(read_csv_rows(source.path(fname)), f"mmlu/{fname}")
            out[split] = [
                {
                    "question": d["question"],
                    "subject": name,
                    "choices": d["choices"],
                    "answer": d["gold"],
                }
                for d in docs
            ]
    return out


# Hugging Face dataset ids of the families the evaluator's data layout holds.
FAMILIES: dict[str, tuple[str, Callable[[DataSource, str | None], Splits]]] = {
    "allenai/ai2_arc": ("arc", _arc),
    "ai2_arc": ("arc", _arc),
    "openai/gsm8k": ("gsm8k", _gsm8k),
    "gsm8k": ("gsm8k", _gsm8k),
    "Rowan/hellaswag": ("hellaswag", _hellaswag),
    "hellaswag": ("hellaswag", _hellaswag),
    "cais/mmlu": ("mmlu", _mmlu),
    "hails/mmlu_no_train": ("mmlu", _mmlu),
}


def _user_override(leaf: LeafTask, spec: dict[str, Any]) -> dict[str, Any] | None:
    per_task = spec.get(leaf.name)
    if isinstance(per_task, dict):
        spec = per_task
    elif any(isinstance(v, dict) and "path" in v for v in spec.values()):
        return None  # a per-task mapping that does not name this task
    if "path" not in spec:
        raise LmEvalTaskError(
            f"params.extra.lm_eval_dataset needs 'path' (a Hugging Face loader such as json or "
            f"csv, or a local dataset folder), e.g. {{path: json, data_files: {{test: FILE}}}}; "
            f"got keys {sorted(spec)}"
        )
    kwargs = {k: v for k, v in spec.items() if k not in ("path", "name")}
    return {
        "dataset_path": str(spec["path"]),
        "dataset_name": spec.get("name"),
        "dataset_kwargs": kwargs,
    }


class Overlay:
    """Writes the overlay folder for one run and remembers what each task's data came from."""

    def __init__(self, root: Path, *, extra: dict[str, Any], data_dir: str | Path | None) -> None:
        self.root = root
        self.extra = extra
        self.data_dir = data_dir
        self.provenance: dict[str, dict[str, Any]] = {}

    def _family_override(self, leaf: LeafTask) -> dict[str, Any] | None:
        from ..datasets import resolve_source

        path = leaf.config.get("dataset_path")
        if path not in FAMILIES:
            return None
        family, build = FAMILIES[str(path)]
        source = resolve_source(family, extra=self.extra, data_dir=self.data_dir)
        if source.kind == "cache":
            return None  # no local layout configured: lm-eval loads its own dataset
        name = leaf.config.get("dataset_name")
        splits = build(source, name)
        if not splits:
            raise LmEvalTaskError(
                f"lm-eval task {leaf.name}: no {family} files for {path} {name or ''} in "
                f"{source.root}; {source.hint()}"
            )
        folder = self.root / "data" / leaf.name
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for split, rows in splits.items():
            target = folder / f"{split}.jsonl"
            target.write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
            )
            files[split] = str(target)
        self.provenance[leaf.name] = {"from": f"{family} layout", **source.describe()}
        return {
            "dataset_path": "json",
            "dataset_name": None,
            "dataset_kwargs": {"data_files": files},
        }

    def write(self, resolved: Resolved) -> None:
        """Write every leaf task (its data overridden where a source applies) and every group
        above them, so a ``TaskManager`` over this folder alone builds the whole name."""
        spec = self.extra.get("lm_eval_dataset")
        if spec is not None and not isinstance(spec, dict):
            raise LmEvalTaskError(
                "params.extra.lm_eval_dataset must be a mapping such as "
                "{path: json, data_files: {test: FILE}}"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        for leaf in resolved.leaves:
            if leaf.yaml_path is None:
                raise LmEvalTaskError(f"lm-eval task {leaf.name} has no YAML file to build it from")
            fields = _user_override(leaf, spec) if spec else None
            if fields is not None:
                self.provenance[leaf.name] = {"from": "params.extra.lm_eval_dataset", **fields}
            else:
                fields = self._family_override(leaf) or {}
            doc: dict[str, Any] = {"include": str(leaf.yaml_path), "task": leaf.name, **fields}
            files = (fields.get("dataset_kwargs") or {}).get("data_files")
            if isinstance(files, dict):  # splits the files do not provide are switched off
                for key in SPLIT_KEYS:
                    if leaf.config.get(key) and leaf.config[key] not in files:
                        doc[key] = None
            self._dump(f"{leaf.name}.yaml", doc)
        for name, cfg in resolved.groups.items():
            self._dump(f"_group_{name}.yaml", cfg)

    def _dump(self, fname: str, doc: dict[str, Any]) -> None:
        try:
            text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
        except yaml.YAMLError as err:
            raise LmEvalTaskError(f"cannot restate lm-eval config {fname} ({err})") from None
        (self.root / fname.replace("/", "_")).write_text(text, encoding="utf-8")


def offline_hint(leaf_name: str, dataset_path: Any) -> str:
    """What to set when ``leaf_name``'s dataset cannot be loaded."""
    family = FAMILIES.get(str(dataset_path))
    if family is not None:
        return (
            f"set {DATA_DIR_ENV} to a data root holding {family[0]}/ (the evaluator's layout), or "
            "params.extra.lm_eval_dataset={path: json, data_files: {test: FILE}}"
        )
    return (
        "set params.extra.lm_eval_dataset={path: json, data_files: {test: FILE}} (or "
        f"{{{leaf_name}: {{...}}}} per task), or make {dataset_path} reachable (HF_DATASETS_OFFLINE "
        "with a filled Hugging Face cache)"
    )


def digest(obj: Any) -> str:
    """sha256 of a task's dumped config, for result metadata."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
