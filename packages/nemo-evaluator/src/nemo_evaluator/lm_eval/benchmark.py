"""``lm-eval.<task>``: an lm-evaluation-harness task (or group, or tag) as one benchmark.

lm-eval's task objects build the requests (``build_all_requests``: prompts, few-shot sampler
and seed, chat template) and score them (filters, ``process_results``, aggregation, groups);
the evaluate core sends them (client layer, adapter chain, cache, retries, journal).
One document of ours is one lm-eval document of one leaf task: ``doc_id = "<task>/<index>"``.
See docs/lm-eval.md.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from nvidia_eval_commons.api.api_dataclasses import ConfigParams
from nvidia_eval_commons.api.results import GroupResult, TaskResult

from ..benchmarks.base import (
    Benchmark,
    GenerationOutput,
    GenerationRequest,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
    Output,
    Request,
    SampleScore,
)
from ..benchmarks.repeats import repeat_seed
from .aggregate import aggregate_results
from .catalog import (
    LOGLIKELIHOOD_TYPES,
    PREFIX,
    check_user_yaml,
    include_paths,
    resolve,
    task_manager,
)
from .data import Overlay, digest, offline_hint
from .errors import LmEvalTaskError, require_lm_eval
from .per_doc import memoize_per_doc

log = logging.getLogger(__name__)

ROLLING_PREFIX = "<|endoftext|>"
"""Context of a ``loglikelihood_rolling`` request (lm-eval scores the text after the model's
end-of-text token); ``params.extra.lm_eval_rolling_prefix`` sets another."""
DEFAULT_MAX_GEN_TOKS = 256
"""lm-eval's API models' default generation budget."""


def _chat_template(history: list[dict[str, str]], *_: Any, **__: Any) -> str:
    """What lm-eval's ``local-chat-completions`` does without a tokenizer: the messages as
    JSON, turned back into messages when the request is sent."""
    return json.dumps(history, ensure_ascii=False)


def _messages(context: str) -> tuple[dict[str, str], ...]:
    try:
        value = json.loads(context)
    except json.JSONDecodeError:
        value = None
    if isinstance(value, list) and all(isinstance(m, dict) for m in value):
        return tuple({"role": str(m["role"]), "content": str(m["content"])} for m in value)
    return ({"role": "user", "content": context},)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


class LmEvalBenchmark(Benchmark):
    """Base of the classes :func:`benchmark_class` makes, one per lm-eval name."""

    task: ClassVar[str]
    endpoint_types: ClassVar[tuple[str, ...]] = ("completions", "chat")
    harness_task: ClassVar[str | None] = None

    def __init__(self, *, params: ConfigParams, data_dir: str | Path | None = None) -> None:
        super().__init__(params=params, data_dir=data_dir)
        require_lm_eval()
        extra = params.extra
        self.paths = include_paths(extra.get("lm_eval_include_path"))
        check_user_yaml(self.paths)
        self.resolved = resolve(self.task, self.paths)
        refuse_unsafe_code(
            self.task,
            [leaf.name for leaf in self.resolved.leaves if leaf.config.get("unsafe_code")],
        )
        if self.resolved.output_types & LOGLIKELIHOOD_TYPES:
            self.endpoint_types = ("completions",)  # type: ignore[misc]
        self._tasks: dict[str, Any] = {}
        self._groups: dict[str, Any] = {}
        self._instances: dict[str, list[Any]] = {}
        self._overlay: Overlay | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # -- building ---------------------------------------------------------------------------

    @property
    def chat(self) -> bool:
        return getattr(self, "endpoint_type", None) == "chat"

    def _load(self) -> dict[str, Any]:
        self._tmp = tempfile.TemporaryDirectory(prefix="nemo-lm-eval-")
        self._overlay = Overlay(
            Path(self._tmp.name), extra=self.params.extra, data_dir=self.data_dir
        )
        self._overlay.write(self.resolved)
        from lm_eval.tasks import TaskManager

        tm = TaskManager(include_path=self._tmp.name, include_defaults=False)
        try:
            loaded: dict[str, Any] = tm.load([self.task])
            return loaded
        except LmEvalTaskError:
            raise
        except Exception as err:  # datasets' errors have no common base
            raise self._load_error(err) from None

    def _load_error(self, err: Exception) -> LmEvalTaskError:
        text = str(err).strip().splitlines()[0] if str(err).strip() else ""
        overridden = self._overlay.provenance if self._overlay else {}
        missing = [leaf for leaf in self.resolved.leaves if leaf.name not in overridden]
        leaf = missing[0] if missing else self.resolved.leaves[0]
        path = leaf.config.get("dataset_path")
        return LmEvalTaskError(
            f"lm-eval task {leaf.name}: dataset {path} cannot be loaded "
            f"({type(err).__name__}: {text[:200]}); {offline_hint(leaf.name, path)}"
        )

    def _configure(self, task: Any) -> None:
        """The run's params on one task, with lm-eval's own rules (``simple_evaluate``)."""
        p = self.params
        gen: dict[str, Any] = {}
        if p.max_new_tokens is not None:
            gen["max_gen_toks"] = p.max_new_tokens
        if p.temperature is not None:
            gen["temperature"] = p.temperature
        if gen and task.get_config("output_type") == "generate_until":
            task.set_config(key="generation_kwargs", value=gen, update=True)
        if p.num_fewshot is not None:
            if task.get_config("num_fewshot") != 0:  # a task that fixes 0 keeps it
                task.set_config(key="num_fewshot", value=p.num_fewshot)
        elif task.get_config("num_fewshot") is None:
            task.set_config(key="num_fewshot", value=0)
        task.set_fewshot_seed(seed=self.fewshot_seed)

    def load_docs(self) -> list[dict[str, Any]]:
        from lm_eval.evaluator_utils import get_sample_size

        loaded = self._load()
        self._tasks = dict(loaded["tasks"])
        self._groups = dict(loaded.get("groups") or {})
        extra = self.params.extra
        chat = self.chat
        multiturn = bool(extra.get("lm_eval_fewshot_as_multiturn", chat))
        docs: list[dict[str, Any]] = []
        refuse_unsafe_code(
            self.task, [n for n, t in self._tasks.items() if getattr(t, "UNSAFE_CODE", False)]
        )
        for name, task in self._tasks.items():
            self._configure(task)
            memoize_per_doc(task)
            task.build_all_requests(
                limit=get_sample_size(task, self.params.limit_samples),
                rank=0,
                world_size=1,
                system_instruction=extra.get("lm_eval_system_instruction"),
                apply_chat_template=chat,
                fewshot_as_multiturn=multiturn and chat,
                chat_template=_chat_template if chat else None,
            )
            by_doc: dict[int, list[Any]] = {}
            for inst in task.instances:
                by_doc.setdefault(int(inst.doc_id), []).append(inst)
            for index in sorted(by_doc):
                doc_id = f"{name}/{index}"
                self._instances[doc_id] = sorted(by_doc[index], key=lambda i: i.idx)
                task.doc_to_target(by_doc[index][0].doc)  # rendered now, not while scoring
                docs.append({"doc_id": doc_id, "task": name, "index": index})
        return docs

    def limit_docs(
        self, docs: list[dict[str, Any]], limit: int | float | None
    ) -> list[dict[str, Any]]:
        return docs  # lm-eval applied the limit per task in load_docs, as its --limit does

    # -- requests ---------------------------------------------------------------------------

    def _request(self, inst: Any) -> Request:
        kind = inst.request_type
        if kind in ("loglikelihood", "multiple_choice"):
            context, continuation = inst.args[0], inst.args[1]
            return LoglikelihoodRequest(context=context, continuation=continuation)
        if kind == "loglikelihood_rolling":
            prefix = str(self.params.extra.get("lm_eval_rolling_prefix", ROLLING_PREFIX))
            return LoglikelihoodRequest(context=prefix, continuation=inst.args[0])
        context, gen_kwargs = inst.args[0], dict(inst.args[1] or {})
        until = gen_kwargs.pop("until", None) or []
        stops = tuple([until] if isinstance(until, str) else until)
        max_tokens = gen_kwargs.pop("max_tokens", gen_kwargs.pop("max_gen_toks", None))
        top_p = gen_kwargs.get("top_p")
        common: dict[str, Any] = dict(
            stop=stops,
            max_tokens=int(max_tokens or DEFAULT_MAX_GEN_TOKS),
            temperature=float(gen_kwargs.get("temperature", 0.0) or 0.0),
            top_p=float(top_p) if top_p is not None else None,
            seed=self.params.seed,
        )
        if self.chat:
            return GenerationRequest(messages=_messages(context), **common)
        return GenerationRequest(prompt=context, **common)

    def repeat_seeds(self, repeats: int) -> list[int | None]:
        """The seeds of an instance's copies: ``params.seed`` when it is sent once; with the
        task's ``repeats: N``, copy ``k`` gets seed ``params.seed + k`` (0 + k without one),
        the native ``params.repeats`` rule, so each copy is its own sample and cache entry."""
        if repeats <= 1:
            return [self.params.seed]
        return [repeat_seed(self.params.seed, k, 0, 1) for k in range(repeats)]

    def build_requests(self, doc: dict[str, Any]) -> list[Request]:
        reqs: list[Request] = []
        for inst in self._instances[doc["doc_id"]]:
            req = self._request(inst)
            seeds = self.repeat_seeds(int(inst.repeats or 1))
            if isinstance(req, GenerationRequest) and len(seeds) > 1:
                reqs.extend(dataclasses.replace(req, seed=seed) for seed in seeds)
            else:  # a log-likelihood is deterministic: its copies are one request, cached
                reqs.extend([req] * len(seeds))
        return reqs

    # -- scoring ----------------------------------------------------------------------------

    @staticmethod
    def _response(inst: Any, out: Output) -> Any:
        if inst.request_type == "generate_until":
            if not isinstance(out, GenerationOutput):
                raise TypeError(f"expected generated text, got {type(out).__name__}")
            return out.text
        if not isinstance(out, LoglikelihoodOutput):
            raise TypeError(f"expected a log-likelihood, got {type(out).__name__}")
        if inst.request_type == "loglikelihood_rolling":
            return out.logprob
        return (out.logprob, out.is_greedy)

    def score(self, doc: dict[str, Any], outputs: list[Output]) -> SampleScore:
        task = self._tasks[doc["task"]]
        originals = self._instances[doc["doc_id"]]
        expected = sum(int(i.repeats or 1) for i in originals)
        if len(outputs) != expected:
            raise ValueError(f"expected {expected} outputs, got {len(outputs)}")
        insts = [dataclasses.replace(i, resps=[], filtered_resps={}) for i in originals]
        pos = 0
        for inst in insts:
            for _ in range(int(inst.repeats or 1)):
                inst.resps.append(self._response(inst, outputs[pos]))
                pos += 1
        for ensemble in task._filters:  # lm-eval's own filter pipelines of this task
            ensemble.apply(insts)
        lm_doc = insts[0].doc
        raw: dict[str, Any] = {}
        scalars: dict[str, dict[str, float]] = {}
        extracted: dict[str, Any] = {}
        for key in insts[0].filtered_resps:
            values = task.process_results(lm_doc, [i.filtered_resps[key] for i in insts])
            picked = [i.filtered_resps[key] for i in insts]
            extracted[key] = _jsonable(picked[0] if len(picked) == 1 else picked)
            for metric, value in values.items():
                raw[f"{metric},{key}"] = value
                if isinstance(value, (bool, int, float)):
                    name = metric if key == "none" else key
                    scalars.setdefault(metric, {})[name] = float(value)
        return SampleScore(
            doc_id=doc["doc_id"],
            metrics=scalars,
            extracted=extracted.get("none", extracted) if len(extracted) == 1 else extracted,
            target=_jsonable(task.doc_to_target(lm_doc)),
            group=doc["task"],
            extra={"lm_eval": raw},
        )

    def aggregate(
        self, scores: list[SampleScore], *, num_errors: int = 0
    ) -> tuple[dict[str, TaskResult], dict[str, GroupResult]]:
        iters = int(self.params.extra.get("lm_eval_bootstrap_iters", 100000))
        return aggregate_results(
            tasks=self._tasks,
            groups=self._groups,
            scores=scores,
            prefix=PREFIX,
            bootstrap_iters=iters,
            num_errors=num_errors,
        )

    def describe_dataset(self) -> dict[str, Any]:
        from importlib.metadata import version

        provenance = self._overlay.provenance if self._overlay else {}
        return {
            "lm_eval": {
                "version": version("lm-eval"),
                "tasks": {
                    name: {
                        "version": _jsonable(task.VERSION),
                        "config_sha256": digest(task.dump_config()),
                        "num_fewshot": task.get_config("num_fewshot"),
                        **_repeats_entry(self, task),
                        "data": provenance.get(name, {"from": "lm-eval task dataset"}),
                    }
                    for name, task in self._tasks.items()
                },
                "groups": {name: _jsonable(g.version) for name, g in self._groups.items()},
            }
        }


def _repeats_entry(bench: LmEvalBenchmark, task: Any) -> dict[str, Any]:
    """``repeats`` and the seed of each copy, for a task that samples a document repeatedly."""
    repeats = int(task.get_config("repeats") or 1)
    if repeats <= 1:
        return {}
    return {"repeats": {"n": repeats, "seeds": bench.repeat_seeds(repeats)}}


def refuse_unsafe_code(name: str, unsafe: list[str]) -> None:
    """Tasks marked ``unsafe_code`` score by running model-written code in lm-eval's own
    executor, on the host and outside our sandbox: they are refused, never run."""
    if unsafe:
        raise LmEvalTaskError(
            f"lm-eval.{name} runs model-written code outside the sandbox (unsafe_code in "
            f"{', '.join(sorted(unsafe))}); use the native sandboxed benchmark instead, "
            "e.g. --type humaneval"
        )


@functools.lru_cache(maxsize=256)
def benchmark_class(name: str) -> type[LmEvalBenchmark]:
    """The benchmark class of ``lm-eval.<task>`` (``name`` without the prefix)."""
    if not name:
        raise LmEvalTaskError("empty lm-eval task name; use lm-eval.<task>, e.g. lm-eval.gsm8k")
    require_lm_eval()
    attrs = {
        "name": PREFIX + name,
        "task": name,
        "harness_task": name,
        "description": f"lm-evaluation-harness task {name}",
    }
    return type(f"LmEval_{name}", (LmEvalBenchmark,), attrs)


def resolve_benchmark(name: str) -> type[LmEvalBenchmark]:
    """The benchmark registry's resolver of ``lm-eval.<task>`` names."""
    return benchmark_class(name.removeprefix(PREFIX))


__all__ = ["LmEvalBenchmark", "benchmark_class", "resolve_benchmark", "task_manager"]
