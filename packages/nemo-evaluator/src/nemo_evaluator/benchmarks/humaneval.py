"""HumanEval as lm-evaluation-harness defines ``humaneval``: the prompt is the function
signature and docstring, the completion is cut at lm-eval's stop sequences, and lm-eval's
program ``prompt + completion + "\\n" + test + "\\n" + "check(entry_point)"`` runs in the
sandbox split in two processes: ``prompt + completion`` in one, the trusted ``prompt`` (for its
helpers) and ``test`` + ``check(entry_point)`` in the harness, which calls the entry point
across a pipe (``build_check``), so the completion can neither fake nor skip the tests.
pass@k uses the unbiased estimator of Chen et al. with ``params.extra["n"]`` samples per
problem (pass@1, and pass@10 / pass@100 where n reaches them).

``params.extra.sandbox``: ``bubblewrap`` (the default; the run stops with a one-line error
before any request where the machine cannot build the sandbox) or ``unsafe`` (no isolation, on
purpose). See docs/sandbox.md."""

from __future__ import annotations

from typing import Any

from ..datasets import DatasetError, read_jsonl
from ..errors import ConfigError
from ..sandbox import CandidateCheck, SandboxLimits, ensure_available, run_program
from ..sandbox.types import ISOLATIONS
from ..stats.estimators import pass_at_k
from .base import GenerationOutput, GenerationRequest, Output, Request, SampleScore
from .common import SourcedBenchmark

STOP_SEQUENCES = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
K_VALUES = (1, 10, 100)
DEFAULT_TIMEOUT_S = 3.0
SAMPLING_TEMPERATURE = 0.2
SAMPLING_TOP_P = 0.95
"""Used when n > 1 and no temperature is given (lm-eval's ``humaneval_64`` settings)."""


def build_program(doc: dict[str, Any], completion: str) -> str:
    """The checked program, as lm-eval builds it (prediction + "\\n" + reference)."""
    program: str = (
        doc["prompt"] + completion + "\n" + doc["test"] + "\n" + f"check({doc['entry_point']})"
    )
    return program


def build_check(doc: dict[str, Any], completion: str) -> CandidateCheck:
    """``build_program`` split at the trust boundary: the completion's code and the tests."""
    return CandidateCheck(
        candidate=doc["prompt"] + completion + "\n",
        entry_point=doc["entry_point"],
        setup=doc["prompt"],
        tests=doc["test"] + "\n" + f"check({doc['entry_point']})\n",
    )


class HumanEval(SourcedBenchmark):
    name = "humaneval"
    family = "humaneval"
    endpoint_types = ("completions",)
    harness_task = "humaneval"
    description = "HumanEval: complete the function, run its tests in a sandbox (pass@k)"
    default_num_fewshot = 0
    default_max_new_tokens = 1024
    score_blocks = True  # runs each completion's tests in the sandbox

    @property
    def n_samples(self) -> int:
        n = self.params.extra.get("n", 1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"params.extra.n={n!r} must be a positive integer")
        return n

    @property
    def timeout_s(self) -> float:
        return float(self.params.extra.get("timeout_s", DEFAULT_TIMEOUT_S))

    @property
    def limits(self) -> SandboxLimits:
        isolation = self.params.extra.get("sandbox", "bubblewrap")
        if isolation not in ISOLATIONS:
            raise ConfigError(
                f"params.extra.sandbox={isolation!r} must be one of {', '.join(ISOLATIONS)}"
            )
        return SandboxLimits(timeout_s=self.timeout_s, isolation=isolation)

    def preflight(self) -> None:
        ensure_available(self.limits)  # refuse before any request, not after inference

    def load_docs(self) -> list[dict[str, Any]]:
        rows = read_jsonl(self.source.path("HumanEval.jsonl.gz"))
        docs = []
        for i, row in enumerate(rows):
            missing = [f for f in ("task_id", "prompt", "test", "entry_point") if f not in row]
            if missing:
                raise DatasetError(f"humaneval row {i}: missing fields {missing}")
            docs.append(
                {
                    "doc_id": row["task_id"],
                    "prompt": row["prompt"],
                    "test": row["test"],
                    "entry_point": row["entry_point"],
                    "canonical_solution": row.get("canonical_solution"),
                }
            )
        return docs

    def build_requests(self, doc: dict[str, Any]) -> list[Request]:
        n = self.n_samples
        sampling = n > 1
        kwargs = self.generation_kwargs(
            default_temperature=SAMPLING_TEMPERATURE if sampling else 0.0
        )
        if sampling and self.params.top_p is None and self.params.temperature is None:
            kwargs["top_p"] = SAMPLING_TOP_P
        base_seed = kwargs.pop("seed")
        requests: list[Request] = []
        for i in range(n):
            # Distinct seeds keep the n samples distinct requests (and cache entries).
            seed = (base_seed or 0) + i if sampling else base_seed
            requests.append(
                GenerationRequest(prompt=doc["prompt"], stop=STOP_SEQUENCES, seed=seed, **kwargs)
            )
        return requests

    def check(self, doc: dict[str, Any], completion: str) -> tuple[bool, str]:
        """Run one completion's program; (passed, sandbox status)."""
        result = run_program(build_check(doc, completion), limits=self.limits)
        return bool(result.passed), str(result.status)

    def score(self, doc: dict[str, Any], outputs: list[Output]) -> SampleScore:
        completions = []
        for out in outputs:
            if not isinstance(out, GenerationOutput):
                raise TypeError(f"expected a GenerationOutput, got {type(out).__name__}")
            completions.append(out.text)  # already cut at STOP_SEQUENCES by the client
        statuses = []
        passed = 0
        for completion in completions:
            ok, status = self.check(doc, completion)
            passed += ok
            statuses.append(status)
        n = len(completions)
        metrics = {f"pass@{k}": {f"pass@{k}": pass_at_k(n, passed, k)} for k in K_VALUES if k <= n}
        return SampleScore(
            doc_id=doc["doc_id"],
            metrics=metrics,
            extracted={"statuses": statuses, "num_passed": passed, "completions": completions},
            target=doc["entry_point"],
        )
