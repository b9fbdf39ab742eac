"""Scoring requests that share a prefix: the shared context is computed once.

A scoring request echoes its prompt's log-probabilities and generates nothing
(``echo``, ``logprobs``, ``max_tokens=0``), as every log-likelihood benchmark sends them: the
choices of one question arrive together and differ only in their last tokens. Such requests
are grouped by their longest common prefix of token ids; one forward pass over each group's
prefix gives the log-probabilities of the prefix tokens (shared by the group) and the
distribution of the first token after it. A row whose continuation is one token (MMLU's
`` A`` .. `` D``) needs nothing more; longer continuations run one more forward pass over the
rest of their tokens on top of the prefix's key/value cache, all rows of a batch together.

Prefixes are left-padded and continuations right-padded, with explicit position ids and
attention masks, so each row computes what it would compute alone (within float rounding).
Groups are batched in order of length so that padding stays small. The output layer (the
vocabulary projection, a fifth of a small model's work per token) runs only over the prefix
positions whose log-probabilities are wanted: all of them by default, the last one when every
request of the batch asks only for its continuation's (``logprobs_from``, the API's
``echo_logprobs_from``), as the evaluator's log-likelihood requests do.

Clients that score through the generation API (lm-eval's ``local-completions``) ask for one
greedy token as well (``max_tokens=1``, temperature 0) and ignore it. Such a request is scored
the same way; its continuation pass also runs over its last prompt token, and the distribution
after it is handed back (``PrefixScorer.score``'s second value) so that the engine records the
greedy token exactly as its decode loop would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .base import GenerateRequest, GenerateResult

# A prompt joins a group when they share this fraction of the longer of its prompt and the
# group's prefix so far (and at least one token).
MIN_SHARED_FRACTION = 0.5
# Most padding (as a fraction of the batch's tokens) before a batch of prefixes is split.
MAX_PADDING = 0.25

Tops = Callable[[Any, int], list[dict[str, float]]]


def is_scoring(req: GenerateRequest) -> bool:
    """Echo with log-probabilities and no token to generate, or one greedy token."""
    if not (req.echo and req.logprobs is not None):
        return False
    return req.max_tokens == 0 or (req.max_tokens == 1 and req.temperature <= 0)


def wants_next(req: GenerateRequest) -> bool:
    """A scoring request that also generates its one greedy token."""
    return req.max_tokens > 0


@dataclass
class Group:
    """Requests (by index) whose prompts all start with ``prefix``."""

    rows: list[int]
    prefix: list[int]


def _common(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def group_by_prefix(reqs: list[GenerateRequest]) -> list[Group]:
    """Groups of requests sharing a long prefix; each request in exactly one group."""
    order = sorted(range(len(reqs)), key=lambda i: reqs[i].prompt_ids)
    groups: list[Group] = []
    for i in order:
        ids = reqs[i].prompt_ids
        if groups:
            last = groups[-1]
            shared = _common(last.prefix, ids)
            keeps = MIN_SHARED_FRACTION * max(len(ids), len(last.prefix))
            if shared >= max(1.0, keeps):
                last.rows.append(i)
                last.prefix = last.prefix[:shared]
                continue
        groups.append(Group(rows=[i], prefix=list(ids)))
    return groups


def batches(groups: list[Group]) -> list[list[Group]]:
    """Groups in order of prefix length, cut where padding would pass ``MAX_PADDING``."""
    out: list[list[Group]] = []
    for g in sorted(groups, key=lambda g: len(g.prefix)):
        if out:
            batch = out[-1]
            width = len(g.prefix)  # the longest so far: groups come in increasing length
            tokens = sum(len(x.prefix) for x in batch) + width
            if 1 - tokens / (width * (len(batch) + 1)) <= MAX_PADDING:
                batch.append(g)
                continue
        out.append([g])
    return out


class PrefixScorer:
    """Runs scoring requests on a transformers causal LM (see the module docstring)."""

    def __init__(self, *, torch: Any, model: Any, device: str, pad_id: int, tops: Tops) -> None:
        self._torch = torch
        self._model = model
        self._device = device
        self._pad = pad_id
        self._tops = tops

    def score(self, reqs: list[GenerateRequest]) -> tuple[list[GenerateResult], dict[int, Any]]:
        """Each request's result, and for those that ``wants_next`` (by index) the
        log-probabilities of the token after the whole prompt."""
        nexts: dict[int, Any] = {}
        results = [
            GenerateResult(
                prompt_ids=list(r.prompt_ids),
                token_ids=[],
                text="",
                finish_reason="length",
                token_logprobs=[],
                top_logprobs=[],
            )
            for r in reqs
        ]
        for batch in batches(group_by_prefix(reqs)):
            self._score_batch(batch, reqs, results, nexts)
        return results, nexts

    def _score_batch(
        self,
        batch: list[Group],
        reqs: list[GenerateRequest],
        results: list[GenerateResult],
        nexts: dict[int, Any],
    ) -> None:
        torch = self._torch
        width = max(len(g.prefix) for g in batch)
        ids = torch.full((len(batch), width), self._pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for b, g in enumerate(batch):
            ids[b, width - len(g.prefix) :] = torch.tensor(g.prefix, dtype=torch.long)
            mask[b, width - len(g.prefix) :] = 1
        ids, mask = ids.to(self._device), mask.to(self._device)
        longer = [(b, i) for b, g in enumerate(batch) for i in g.rows if self._span(reqs[i], g) > 0]
        # the prefix positions whose output the batch needs, counted from its end: those
        # that give the wanted prompt tokens' log-probabilities, and the last (the next token)
        keep = max(_kept(g, reqs) for g in batch)
        out = self._model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
            use_cache=bool(longer),
            logits_to_keep=0 if keep >= width else keep,
        )
        kept = out.logits.shape[1]  # the last ``kept`` positions of every row
        for b, g in enumerate(batch):
            n = len(g.prefix)
            m = min(kept, n)  # prefix positions n - m .. n - 1
            logp = torch.log_softmax(out.logits[b, kept - m :].float(), dim=-1)
            k = max(reqs[i].logprobs or 0 for i in g.rows)
            targets = torch.tensor(g.prefix[n - m + 1 :], dtype=torch.long, device=logp.device)
            shared_lp = logp[:-1].gather(-1, targets[:, None])[:, 0].tolist() if m > 1 else []
            shared_top = self._tops(logp[:-1], k) if m > 1 else []
            skipped: list[None] = [None] * (n - m + 1)  # position 0, and those not kept
            nxt = logp[-1]
            for i in g.rows:
                req, res = reqs[i], results[i]
                kk = req.logprobs or 0
                res.prompt_logprobs = [*skipped, *shared_lp]
                res.prompt_top_logprobs = [*skipped, *(_first(t, kk) for t in shared_top)]
                if len(req.prompt_ids) > n:
                    first = req.prompt_ids[n]
                    res.prompt_logprobs.append(float(nxt[first]))
                    res.prompt_top_logprobs.append(self._tops(nxt[None], kk)[0])
                elif wants_next(req):
                    nexts[i] = nxt
        if longer:
            self._score_rest(batch, longer, reqs, results, nexts, out.past_key_values, mask)

    @staticmethod
    def _span(req: GenerateRequest, group: Group) -> int:
        """Tokens the continuation pass runs over: those after the first one past the
        prefix (the first is scored by the prefix pass), and the last prompt token only when
        the token after it is wanted."""
        rest = len(req.prompt_ids) - len(group.prefix)
        return rest if wants_next(req) else max(0, rest - 1)

    def _score_rest(
        self,
        batch: list[Group],
        rows: list[tuple[int, int]],
        reqs: list[GenerateRequest],
        results: list[GenerateResult],
        nexts: dict[int, Any],
        past: Any,
        prefix_mask: Any,
    ) -> None:
        """The continuation pass (see ``_span``), on top of the prefix's cache."""
        torch = self._torch
        rests = [
            reqs[i].prompt_ids[len(batch[b].prefix) :][: self._span(reqs[i], batch[b])]
            for b, i in rows
        ]
        span = max(len(r) for r in rests)
        ids = torch.full((len(rows), span), self._pad, dtype=torch.long)
        mask = torch.zeros((len(rows), span), dtype=torch.long)
        for r, rest in enumerate(rests):
            ids[r, : len(rest)] = torch.tensor(rest, dtype=torch.long)
            mask[r, : len(rest)] = 1
        source = torch.tensor([b for b, _ in rows], dtype=torch.long, device=self._device)
        past.reorder_cache(source)
        starts = torch.tensor([len(batch[b].prefix) for b, _ in rows], dtype=torch.long)
        positions = starts[:, None] + torch.arange(span)[None, :]
        out = self._model(
            input_ids=ids.to(self._device),
            attention_mask=torch.cat([prefix_mask[source], mask.to(self._device)], dim=1),
            position_ids=positions.to(self._device),
            past_key_values=past,
            use_cache=False,
        )
        for r, (_, i) in enumerate(rows):
            req, res = reqs[i], results[i]
            logp = torch.log_softmax(out.logits[r, : len(rests[r])].float(), dim=-1)
            if wants_next(req):
                nexts[i] = logp[-1]
                logp = logp[:-1]
            count = len(logp)
            if count == 0:
                continue
            targets = torch.tensor(req.prompt_ids[-count:], dtype=torch.long, device=logp.device)
            assert res.prompt_logprobs is not None and res.prompt_top_logprobs is not None
            res.prompt_logprobs += logp.gather(-1, targets[:, None])[:, 0].tolist()
            res.prompt_top_logprobs += self._tops(logp, req.logprobs or 0)


def _kept(group: Group, reqs: list[GenerateRequest]) -> int:
    """How many of ``group``'s last prefix positions its requests need: from the one before
    the first wanted prompt token (``logprobs_from``, at least token 1) to the last."""
    n = len(group.prefix)
    first = min(max(1, reqs[i].logprobs_from) for i in group.rows)
    return n - min(first, n) + 1


def _first(top: dict[str, float], k: int) -> dict[str, float]:
    """The ``k`` best of a top-k map computed for a larger k (its order is best first)."""
    return top if len(top) <= k else dict(list(top.items())[:k])
