"""Read both harnesses' outputs and compare them: task scores, then sample by sample.

Ours: ``results.json`` and ``samples.jsonl`` of ``nemo-evaluator run``. lm-eval:
``results_*.json`` and ``samples_<task>_*.jsonl`` (``--log_samples``) under its output path.
Runs in the workspace interpreter; standard library only.
"""

from __future__ import annotations

import glob
import json
import math
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LL_TOLERANCE = 1e-3
"""Log-likelihoods closer than this are the same number (batched vs single forward passes
differ in the 5th decimal)."""


@dataclass
class Row:
    task: str
    metric: str
    ours: float | None
    lm_eval: float | None

    @property
    def diff_points(self) -> float | None:
        if self.ours is None or self.lm_eval is None:
            return None
        return 100.0 * (self.ours - self.lm_eval)

    @property
    def within(self) -> bool:
        d = self.diff_points
        return d is not None and abs(d) <= 1.0 + 1e-9


@dataclass
class SampleReport:
    task: str
    compared: int = 0
    prompt_mismatch: int = 0
    response_mismatch: int = 0
    score_mismatch: int = 0
    examples: list[str] = field(default_factory=list)
    ll_mismatch: tuple[str, str] | None = None
    """(context, continuation) of the first log-likelihood that differs, for :func:`probe`."""
    ll_diffs: list[tuple[str, str, float, float]] = field(default_factory=list)
    """(context, continuation, ours, lm-eval) of every differing log-likelihood."""
    cause: str | None = None
    """What :func:`probe` found out about the first differing log-likelihood."""
    lm_eval_higher: int = 0
    """Differing log-likelihoods where lm-eval's is the larger (a token left out)."""

    def note(self, text: str, *, limit: int = 6) -> None:
        if len(self.examples) < limit:
            self.examples.append(text)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def ours_score(results: dict[str, Any], name: str, metric: str, score: str) -> float | None:
    for section in ("tasks", "groups"):
        entry = results.get(section, {}).get(name)
        if entry:
            try:
                return float(entry["metrics"][metric]["scores"][score]["value"])
            except KeyError:
                return None
    return None


def lm_eval_results(out_dir: Path) -> dict[str, Any]:
    """The newest ``results_*.json`` below ``out_dir`` (lm-eval nests it per model)."""
    files = sorted(glob.glob(str(out_dir / "**" / "results_*.json"), recursive=True))
    if not files:
        raise FileNotFoundError(f"no lm-eval results_*.json under {out_dir}")
    return json.loads(Path(files[-1]).read_text(encoding="utf-8"))


def lm_eval_samples(out_dir: Path, task: str) -> list[dict[str, Any]]:
    files = sorted(glob.glob(str(out_dir / "**" / f"samples_{task}_*.jsonl"), recursive=True))
    if not files:
        return []
    rows = read_jsonl(Path(files[-1]))
    return sorted(rows, key=lambda r: int(r["doc_id"]))


def _ll_pairs(resps: list[Any]) -> list[float]:
    """lm-eval's ``resps`` of a multiple-choice doc: ``[[[ll, is_greedy]], ...]``."""
    return [float(r[0][0]) for r in resps]


def compare_loglikelihood(
    task: str, ours: list[dict[str, Any]], theirs: list[dict[str, Any]], metrics: list[str]
) -> SampleReport:
    rep = SampleReport(task=task)
    for mine, other in zip(ours, theirs, strict=False):
        rep.compared += 1
        args = other["arguments"]
        ctx = args["gen_args_0"]["arg_0"]
        conts = [args[k]["arg_1"] for k in sorted(args, key=lambda k: int(k.rsplit("_", 1)[1]))]
        prompt = mine.get("prompt") or {}
        if prompt.get("context") != ctx or prompt.get("continuations") != conts:
            rep.prompt_mismatch += 1
            rep.note(
                f"doc {other['doc_id']}: prompt differs\n  ours:   {prompt.get('context')!r}"
                f" {prompt.get('continuations')!r}\n  lm-eval: {ctx!r} {conts!r}"
            )
        ours_ll = [float(r[0]) for r in (mine.get("response") or [])]
        their_ll = _ll_pairs(other["resps"])
        bad = [
            i
            for i, (a, b) in enumerate(zip(ours_ll, their_ll, strict=False))
            if not math.isclose(a, b, abs_tol=LL_TOLERANCE)
        ]
        if bad or len(ours_ll) != len(their_ll):
            rep.response_mismatch += 1
            rep.lm_eval_higher += sum(their_ll[i] > ours_ll[i] for i in bad)
            if rep.ll_mismatch is None and bad:
                rep.ll_mismatch = (ctx, conts[bad[0]])
            rep.ll_diffs += [(ctx, conts[i], ours_ll[i], their_ll[i]) for i in bad]
            details = ", ".join(
                f"choice {i} {conts[i]!r}: ours {ours_ll[i]:.4f} lm-eval {their_ll[i]:.4f}"
                for i in bad
            )
            rep.note(f"doc {other['doc_id']}: log-likelihood differs: {details}")
        score = mine.get("score") or {}
        for m in metrics:
            if float(score.get(m, {}).get(m, -1)) != float(other.get(m, -2)):
                rep.score_mismatch += 1
                break
    return rep


def compare_generation(
    task: str,
    ours: list[dict[str, Any]],
    theirs: list[dict[str, Any]],
    score_keys: dict[str, tuple[str, str]],
) -> SampleReport:
    """``score_keys`` maps lm-eval ``filter`` -> (our metric, our score name)."""
    rep = SampleReport(task=task)
    by_doc: dict[int, list[dict[str, Any]]] = {}
    for row in theirs:
        by_doc.setdefault(int(row["doc_id"]), []).append(row)
    for mine, (doc_id, rows) in zip(ours, sorted(by_doc.items()), strict=False):
        rep.compared += 1
        other = rows[0]
        their_prompt = other["arguments"]["gen_args_0"]["arg_0"]
        if mine.get("prompt") != their_prompt:
            rep.prompt_mismatch += 1
            rep.note(
                f"doc {doc_id}: prompt differs\n  ours:    {str(mine.get('prompt'))[-300:]!r}\n"
                f"  lm-eval: {their_prompt[-300:]!r}"
            )
        resp = mine.get("response")
        ours_text = resp if isinstance(resp, str) else json.dumps(resp)
        their_text = other["resps"][0][0]
        if ours_text.strip() != their_text.strip():
            rep.response_mismatch += 1
            rep.note(
                f"doc {doc_id}: generation differs\n  ours:    {ours_text[:300]!r}\n"
                f"  lm-eval: {their_text[:300]!r}"
            )
        score = mine.get("score") or {}
        for row in rows:
            key = score_keys.get(row.get("filter", ""))
            if key is None:
                continue
            metric, name = key
            their_value = next(
                (float(v) for k, v in row.items() if k in (metric, "pass_at_k", "pass@1")), None
            )
            mine_value = score.get(metric, {}).get(name)
            if their_value is None or mine_value is None or float(mine_value) != their_value:
                rep.score_mismatch += 1
                rep.note(
                    f"doc {doc_id} [{row.get('filter')}]: score ours {mine_value} lm-eval "
                    f"{their_value}; extracted ours {mine.get('extracted')!r} lm-eval "
                    f"{row.get('filtered_resps')!r}"
                )
                break
    return rep


def _post_completions(url: str, body: dict[str, Any], *, timeout: float) -> dict[str, Any]:
    """POST one completions request to the served model; its JSON answer."""
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return dict(json.loads(resp.read()))


def probe(url: str, model: str, context: str, continuation: str) -> str:
    """Replay lm-eval's ``local-completions`` log-likelihood request (``echo``, ``logprobs=1``,
    ``max_tokens=1``) and say whether the generated token it slices off with
    ``token_logprobs[ctxlen:-1]`` is there."""
    body = {
        "model": model,
        "prompt": context + continuation,
        "max_tokens": 1,
        "echo": True,
        "logprobs": 1,
        "temperature": 0,
    }
    out = _post_completions(url, body, timeout=120)
    choice = out["choices"][0]
    generated = out.get("usage", {}).get("completion_tokens")
    if generated == 0:
        return (
            f"the server echoed the prompt but returned no generated token "
            f"(finish_reason={choice.get('finish_reason')!r}, completion_tokens=0): the next "
            "token is end-of-sequence and is left out, so lm-eval's token_logprobs[ctxlen:-1] "
            f"drops the last continuation token instead (continuation {continuation!r})"
        )
    return f"the server returned {generated} generated token(s) (finish_reason={choice.get('finish_reason')!r})"


def explain_last_token(
    url: str, model: str, diffs: list[tuple[str, str, float, float]], *, cap: int = 64
) -> tuple[int, int]:
    """How many differing log-likelihoods equal ours minus the log-probability of the prompt's
    last token (the token lm-eval's ``[:-1]`` cuts when the server returns no generated token).
    One batched echo request (``max_tokens: 0``) for at most ``cap`` of them."""
    diffs = diffs[:cap]
    if not diffs:
        return 0, 0
    body = {
        "model": model,
        "prompt": [c + x for c, x, _, _ in diffs],
        "max_tokens": 0,
        "echo": True,
        "logprobs": 1,
        "temperature": 0,
    }
    out = _post_completions(url, body, timeout=600)
    explained = 0
    choices = sorted(out["choices"], key=lambda c: c["index"])
    for (_, _, ours, theirs), choice in zip(diffs, choices, strict=False):
        last = choice["logprobs"]["token_logprobs"][-1]
        if last is not None and math.isclose(theirs, ours - last, abs_tol=LL_TOLERANCE):
            explained += 1
    return explained, len(diffs)


def format_table(rows: list[Row]) -> str:
    head = "| task | metric | ours | lm-eval | diff (points) | within 1 point |"
    lines = [head, "|---|---|---:|---:|---:|---|"]
    for r in rows:
        ours = "-" if r.ours is None else f"{100 * r.ours:.2f}"
        other = "-" if r.lm_eval is None else f"{100 * r.lm_eval:.2f}"
        diff = "-" if r.diff_points is None else f"{r.diff_points:+.2f}"
        lines.append(
            f"| {r.task} | {r.metric} | {ours} | {other} | {diff} | {'yes' if r.within else 'NO'} |"
        )
    return "\n".join(lines)


def format_samples(reports: list[SampleReport]) -> str:
    lines = [
        "| task | docs compared | prompt differs | response differs | score differs "
        "| lm-eval log-likelihood higher |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in reports:
        lines.append(
            f"| {r.task} | {r.compared} | {r.prompt_mismatch} | {r.response_mismatch} | "
            f"{r.score_mismatch} | {r.lm_eval_higher} |"
        )
    return "\n".join(lines)
