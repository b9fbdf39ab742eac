"""Scoring with shared prefixes equals a plain forward pass of each prompt alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nemo_eval.engines.base import EngineSpec, GenerateRequest
from nemo_eval.engines.hf_scoring import Group, batches, group_by_prefix

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def engine(smol_dir: Path) -> Any:
    from nemo_eval.engines.hf import HfEngine

    return HfEngine.load(EngineSpec(engine="hf", path=str(smol_dir)), model_name="smol")


def scoring(ids: list[int], k: int = 2) -> GenerateRequest:
    return GenerateRequest(prompt_ids=ids, max_tokens=0, logprobs=k, echo=True)


def test_groups_share_long_prefixes_only() -> None:
    reqs = [scoring([1, 2, 3, 4, 9]), scoring([7, 8]), scoring([1, 2, 3, 4, 5]), scoring([1, 6])]
    groups = group_by_prefix(reqs)
    assert [(sorted(g.rows), g.prefix) for g in groups] == [
        ([0, 2], [1, 2, 3, 4]),
        ([3], [1, 6]),  # shares 1 token of 2 with the group before: too little
        ([1], [7, 8]),
    ]
    # a prompt that is the prefix of another joins it whole
    assert [g.prefix for g in group_by_prefix([scoring([1, 2]), scoring([1, 2, 3])])] == [[1, 2]]


def test_batches_cut_where_padding_grows() -> None:
    groups = [Group(rows=[i], prefix=[0] * n) for i, n in enumerate([10, 9, 100, 8, 95])]
    assert [[len(g.prefix) for g in b] for b in batches(groups)] == [[8, 9, 10], [95, 100]]


def test_shared_prefix_scores_equal_each_prompt_alone(
    engine: Any, reference_model: tuple[Any, Any]
) -> None:
    import torch

    tok, model = reference_model
    question = "Question: which planet is the largest in the solar system?\nAnswer:"
    ctx = tok(question)["input_ids"]
    letters = [ctx + tok(f" {c}")["input_ids"] for c in "ABCD"]  # one token each
    endings = [ctx + tok(e)["input_ids"] for e in [" Jupiter, by far", " Saturn", " the Sun!"]]
    other = tok("A different prompt altogether, of another length.")["input_ids"]
    generate = GenerateRequest(prompt_ids=ctx, max_tokens=3, temperature=0.0, logprobs=1)
    reqs = [scoring(ids) for ids in [*letters, *endings, other, ctx]] + [generate]
    got = engine.generate(reqs)
    assert len(got) == len(reqs)
    for req, res in zip(reqs[:-1], got[:-1], strict=True):
        ids = req.prompt_ids
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), -1)
        want = logp[:-1].gather(-1, torch.tensor(ids[1:])[:, None])[:, 0]
        assert res.prompt_logprobs[0] is None and len(res.prompt_logprobs) == len(ids)
        assert torch.allclose(torch.tensor(res.prompt_logprobs[1:]), want, atol=1e-4)
        assert len(res.prompt_top_logprobs) == len(ids)
        for j in range(1, len(ids)):
            top = res.prompt_top_logprobs[j]
            assert len(top) == 2
            best = torch.topk(logp[j - 1], 2)
            assert list(top.values()) == pytest.approx(best.values.tolist(), abs=1e-4)
        assert res.token_ids == [] and res.finish_reason == "length"
    # the generation request in the same batch decodes as it would alone
    alone = engine.generate([generate])[0]
    assert got[-1].token_ids == alone.token_ids and len(got[-1].token_ids) == 3


def one_greedy(ids: list[int], **kw: Any) -> GenerateRequest:
    """lm-eval's ``local-completions`` form: echo, logprobs 1 and one greedy token."""
    return GenerateRequest(
        prompt_ids=ids, max_tokens=1, temperature=0.0, logprobs=1, echo=True, **kw
    )


def test_one_greedy_token_requests_share_prefixes_and_decode_as_before(
    engine: Any, reference_model: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scored through the shared-prefix path, each answer equals the decode loop's answer to the
    same request alone: echo log-probabilities, the generated token (or the end-of-sequence token
    it stops at), its log-probability and its alternatives, the text and the finish reason."""
    import torch

    tok, _ = reference_model
    ctx = tok("Question: which planet is the largest in the solar system?\nAnswer:")["input_ids"]
    stops_here = tok(
        "Question: Which piece of safety equipment is used to keep mold spores from entering "
        "the respiratory system?\nAnswer: breathing mask"
    )["input_ids"]
    reqs = [one_greedy(ctx + tok(f" {c}")["input_ids"]) for c in "ABCD"]  # 1 token past ctx
    reqs += [one_greedy(ctx + tok(e)["input_ids"]) for e in [" Jupiter, by far", " Saturn"]]
    # the last one's token is cut by its stop string: it keeps no token
    reqs += [one_greedy(ctx), one_greedy(stops_here), one_greedy(ctx, stop=[" "])]
    got = engine.generate(reqs)
    assert got[-2].stop_token is not None  # the end-of-sequence case is covered
    assert got[-1].token_ids == [] and len(got[0].token_ids) == 1
    for req, res in zip(reqs, got, strict=True):
        with torch.inference_mode():
            alone = engine._decode([req])[0]
        assert (res.token_ids, res.text, res.finish_reason, res.stop_token) == (
            alone.token_ids,
            alone.text,
            alone.finish_reason,
            alone.stop_token,
        )
        assert res.token_logprobs == pytest.approx(alone.token_logprobs, abs=1e-4)
        assert [list(t) for t in res.top_logprobs] == [list(t) for t in alone.top_logprobs]
        assert len(res.prompt_logprobs) == len(req.prompt_ids)
        assert res.prompt_logprobs[1:] == pytest.approx(alone.prompt_logprobs[1:], abs=1e-4)
        assert [list(t) for t in res.prompt_top_logprobs[1:]] == [
            list(t) for t in alone.prompt_top_logprobs[1:]
        ]
    # a prompt that fills the context window generates nothing, as in the decode loop
    monkeypatch.setattr(engine, "max_context", len(ctx))
    full = engine.generate([one_greedy(ctx)])[0]
    assert full.token_ids == [] and full.token_logprobs == [] and full.finish_reason == "length"
    assert len(full.prompt_logprobs) == len(ctx)


def test_batch_rows_count_a_shared_prefix_once(engine: Any) -> None:
    ctx = engine.tokenize("Question: which planet is the largest in the solar system?\nAnswer:")
    letters = [scoring(ctx + engine.tokenize(f" {c}", special=False)) for c in "ABCD"]
    decode = GenerateRequest(prompt_ids=ctx, max_tokens=2)
    other = scoring(engine.tokenize("A different prompt altogether, of another length."))
    assert engine.batch_rows([]) == 0
    assert engine.batch_rows(letters) == 1
    assert engine.batch_rows([*letters, other]) == 2
    assert engine.batch_rows([*letters, decode, decode]) == 3  # decoded requests: a row each


def test_batching_queue_fills_batches_by_rows(engine: Any) -> None:
    """Three questions of four choices under ``max_batch_size=2``: two questions (8 requests)
    share the first batch, the third waits for the next; the scores equal each one alone."""
    import threading

    from nemo_eval.serving.embedded import BatchingQueue

    started, release, seen = threading.Event(), threading.Event(), []

    class Recording:
        """The real engine; records each batch and holds the first until ``release``."""

        def batch_rows(self, reqs: list[GenerateRequest]) -> int:
            return int(engine.batch_rows(reqs))

        def generate(self, reqs: list[GenerateRequest]) -> Any:
            if not seen:
                started.set()
                release.wait(timeout=60)
            seen.append(len(reqs))
            return engine.generate(reqs)

    questions = [
        engine.tokenize(f"Question: what is {a} plus {a}?\nAnswer:") for a in ("one", "two", "six")
    ]
    q = BatchingQueue(Recording(), max_batch_size=2)  # type: ignore[arg-type]
    try:
        out: dict[int, Any] = {}
        blocker = threading.Thread(target=lambda: q.submit([GenerateRequest([1, 2], max_tokens=1)]))
        blocker.start()
        assert started.wait(timeout=60)  # the worker runs the blocking request
        workers = [
            threading.Thread(
                target=lambda i=i, ctx=ctx: out.__setitem__(
                    i,
                    q.submit(
                        [scoring(ctx + engine.tokenize(f" {c}", special=False)) for c in "ABCD"]
                    ),
                )
            )
            for i, ctx in enumerate(questions)
        ]
        for t in workers:
            t.start()
        while q._queue.qsize() < 12:
            threading.Event().wait(0.01)
        release.set()
        for t in [blocker, *workers]:
            t.join(timeout=120)
    finally:
        q.stop()
    assert seen == [1, 8, 4]
    for i, ctx in enumerate(questions):
        alone = engine.generate([scoring(ctx + engine.tokenize(" A", special=False))])[0]
        assert out[i][0].prompt_logprobs[1:] == pytest.approx(alone.prompt_logprobs[1:], abs=1e-4)


def test_logprobs_from_skips_the_context_and_keeps_the_rest_exact(engine: Any) -> None:
    ctx = engine.tokenize("Question: which planet is the largest in the solar system?\nAnswer:")
    letters = [ctx + engine.tokenize(f" {c}") for c in "ABCD"]
    endings = [ctx + engine.tokenize(e) for e in [" Jupiter, by far", " Saturn"]]
    longer = engine.tokenize("Another question, longer than the first one, on its own.")
    prompts = [*letters, *endings, longer]
    want = engine.generate([scoring(ids) for ids in prompts])

    def cut(ids: list[int], start: int) -> GenerateRequest:
        req = scoring(ids)
        req.logprobs_from = start
        return req

    # a batch whose rows all want only their continuation: the context comes back null
    only = engine.generate([cut(ids, len(ctx)) for ids in letters])
    for a, b in zip(want, only, strict=False):
        assert b.prompt_logprobs[: len(ctx)] == [None] * len(ctx)
        assert b.prompt_top_logprobs[: len(ctx)] == [None] * len(ctx)
        assert b.prompt_logprobs[len(ctx) :] == pytest.approx(
            a.prompt_logprobs[len(ctx) :], abs=1e-4
        )
    # mixed starts in one batch (one row from token 0: everything): the wanted tokens are
    # exact, the others null or exact
    starts = [len(ctx)] * 3 + [0, len(ctx), len(ctx) + 1, 3]
    got = engine.generate([cut(ids, s) for ids, s in zip(prompts, starts, strict=True)])
    for start, a, b in zip(starts, want, got, strict=True):
        assert len(b.prompt_logprobs) == len(a.prompt_logprobs)
        assert b.prompt_logprobs[start:] == pytest.approx(a.prompt_logprobs[start:], abs=1e-4)
        for x, y in zip(a.prompt_top_logprobs[start:], b.prompt_top_logprobs[start:], strict=True):
            assert (x is None and y is None) or list(x) == list(y)
        for x, y in zip(a.prompt_logprobs[:start], b.prompt_logprobs[:start], strict=True):
            assert y is None or y == pytest.approx(x, abs=1e-4)
