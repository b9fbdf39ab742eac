"""HumanEval: requests, the checked program, and pass@k through the real sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from nemo_evaluator.benchmarks import get_benchmark
from nemo_evaluator.benchmarks.base import GenerationOutput
from nemo_evaluator.benchmarks.humaneval import STOP_SEQUENCES, build_program
from nemo_evaluator.core.client import apply_stops
from nemo_evaluator.errors import SandboxError
from nemo_evaluator.sandbox import ensure_available
from nvidia_eval_commons.api.api_dataclasses import ConfigParams


def _sandbox_missing() -> str | None:
    try:
        ensure_available()
    except SandboxError as exc:
        return f"{exc} (apt-get install bubblewrap; CI installs it)"
    return None


needs_sandbox = pytest.mark.skipif(_sandbox_missing() is not None, reason=_sandbox_missing() or "")


def make(**params):
    return get_benchmark("humaneval")(params=ConfigParams(**params))


def test_requests_use_prompt_stops_and_distinct_seeds(shared_data: Path) -> None:
    docs = make().load_docs()
    assert len(docs) == 164 and docs[0]["doc_id"] == "HumanEval/0"
    (req,) = make().build_requests(docs[0])
    assert req.prompt == docs[0]["prompt"]
    assert req.stop == ("\nclass", "\ndef", "\n#", "\nif", "\nprint") == STOP_SEQUENCES
    assert (req.temperature, req.max_tokens, req.seed) == (0.0, 1024, None)
    reqs = make(extra={"n": 3}).build_requests(docs[0])
    assert [r.seed for r in reqs] == [0, 1, 2]
    assert {(r.temperature, r.top_p) for r in reqs} == {(0.2, 0.95)}
    reqs = make(extra={"n": 2}, temperature=0.8, seed=10).build_requests(docs[0])
    assert [(r.seed, r.temperature, r.top_p) for r in reqs] == [(10, 0.8, None), (11, 0.8, None)]


def test_program_is_prompt_completion_test_and_check(shared_data: Path) -> None:
    doc = make().load_docs()[0]
    program = build_program(doc, "    return True\n")
    assert program.startswith(doc["prompt"] + "    return True\n\n" + doc["test"])
    assert program.endswith("\ncheck(has_close_elements)")


@needs_sandbox
def test_canonical_solutions_pass_and_broken_ones_fail(shared_data: Path) -> None:
    bench = make()
    docs = bench.load_docs()[:3]
    for doc in docs:
        good = bench.score(doc, [GenerationOutput(text=doc["canonical_solution"])])
        assert good.metrics == {"pass@1": {"pass@1": 1.0}}, good.extracted["statuses"]
        bad = bench.score(doc, [GenerationOutput(text="    return None\n")])
        assert bad.metrics == {"pass@1": {"pass@1": 0.0}}
    # Text after a stop sequence is cut (by the client, with the request's stops) before the
    # check: the trailing junk would be a syntax error.
    doc = docs[0]
    text = apply_stops(doc["canonical_solution"] + "\nif x y z", bench.build_requests(doc)[0].stop)
    cut = bench.score(doc, [GenerationOutput(text=text)])
    assert cut.metrics["pass@1"]["pass@1"] == 1.0


@needs_sandbox
def test_pass_at_k_from_n_samples(shared_data: Path) -> None:
    bench = make(extra={"n": 10})
    doc = bench.load_docs()[2]  # truncate_number
    outputs = [GenerationOutput(text=doc["canonical_solution"])] * 3 + [
        GenerationOutput(text="    return 0.5\n")
    ] * 7
    score = bench.score(doc, outputs)
    assert score.extracted["num_passed"] == 3
    assert score.metrics["pass@1"]["pass@1"] == pytest.approx(0.3)
    assert score.metrics["pass@10"]["pass@10"] == 1.0
    assert "pass@100" not in score.metrics


def test_bad_n_is_a_clear_error(shared_data: Path) -> None:
    from nemo_evaluator.errors import ConfigError

    with pytest.raises(ConfigError, match=r"params\.extra\.n"):
        make(extra={"n": 0}).build_requests(make().load_docs()[0])
