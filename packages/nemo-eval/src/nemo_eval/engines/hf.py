"""The ``hf`` engine: transformers + torch, CPU or GPU, HF directories and GGUF files.

Generation is a hand-written decode loop over the model's forward pass rather than
``model.generate``: a batch mixes requests with different temperatures, top-p, seeds, stop
strings and lengths, and each needs its own sampler and its own log-probabilities, which
``generate`` applies only per batch. Prompts are left-padded, with explicit position ids, so a
padded row computes the same values as the row alone.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, DeployConfigError, missing_extra
from .base import (
    EngineSpec,
    GenerateRequest,
    GenerateResult,
    record_logprob,
    token_budget,
    trim_at_stop,
)
from .hf_scoring import PrefixScorer, group_by_prefix, is_scoring
from .token_bytes import TokenBytes, split_bytes, token_string

log = logging.getLogger(__name__)


def _import_torch_transformers() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise missing_extra("hf", module=exc.name or "torch", purpose="The hf engine") from None
    return torch, transformers


def cpu_thread_count(requested: int | None) -> int:
    """Torch intra-op threads for CPU inference.

    Half the usable cores by default (at least one): the HTTP server, tokenizer and batching
    threads need CPU time too, and OpenMP workers that spin-wait for a busy core slow every
    operator down. On this 2-core machine, with other jobs running, one thread decoded a
    token in 0.10 s and two threads in 0.34-0.44 s.
    """
    if requested is None:
        env = os.environ.get("NEMO_EVAL_CPU_THREADS", "").strip()
        if env:
            try:
                requested = int(env)
            except ValueError:
                raise DeployConfigError(
                    f"NEMO_EVAL_CPU_THREADS must be a positive integer, got {env!r}"
                ) from None
    if requested is not None:
        if requested < 1:
            raise DeployConfigError(f"cpu_threads must be a positive integer, got {requested}")
        return requested
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores // 2)


def gguf_cache_dir(gguf_path: Path, *, home: Path) -> Path:
    """Where the converted weights of one GGUF file live (keyed by name, size and mtime)."""
    stat = gguf_path.stat()
    return home / "converted" / f"{gguf_path.stem}-{stat.st_size}-{int(stat.st_mtime)}"


def convert_gguf(gguf_path: Path, target: Path) -> Path:
    """Dequantize a GGUF file with transformers and save it as an HF directory at ``target``.

    The tokenizer and chat template come from the GGUF file itself. Later starts load the
    saved directory in under a second instead of converting again (about 20-50 s).
    """
    _, transformers = _import_torch_transformers()
    try:
        import gguf  # noqa: F401
    except ImportError:
        raise missing_extra("hf", module="gguf", purpose="Loading a GGUF file") from None
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").is_file():
            return target
        log.info("converting %s to an HF directory at %s (once)", gguf_path, target)
        tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
        try:
            src, name = str(gguf_path.parent), gguf_path.name
            tokenizer = transformers.AutoTokenizer.from_pretrained(src, gguf_file=name)
            quantized = transformers.AutoModelForCausalLM.from_pretrained(src, gguf_file=name)
            config = quantized.config
            if hasattr(config, "quantization_config"):
                # The dequantized weights are plain tensors; without this the model refuses
                # to serialize (transformers marks GGUF-loaded models as quantized).
                del config.quantization_config
            model = transformers.AutoModelForCausalLM.from_config(config)
            model.load_state_dict(quantized.state_dict())
            model.generation_config = quantized.generation_config
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            os.replace(tmp, target)
        except Exception as exc:
            raise CheckpointError(
                f"could not read GGUF file {gguf_path}: {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


@dataclass
class _Row:
    """One request's decoding state."""

    req: GenerateRequest
    result: GenerateResult
    generator: Any
    budget: int
    """Tokens it may still generate in total (``max_tokens`` within the context window)."""
    done: bool = False
    cut: bool = False
    """Cut at a stop string: ``result.text`` is already final."""

    @property
    def scores_prompt(self) -> bool:
        return self.req.echo and self.req.logprobs is not None


@dataclass
class _Batch:
    """The decode state shared by a batch: last logits, key/value cache, mask, positions."""

    last: Any
    past: Any
    mask: Any
    positions: Any


class HfEngine:
    """A causal LM loaded with transformers; thread-safe (one batch runs at a time)."""

    def __init__(
        self, *, model: Any, tokenizer: Any, model_name: str, device: str, config: Any = None
    ) -> None:
        torch, _ = _import_torch_transformers()
        self._torch = torch
        self.model = model
        self.tokenizer = tokenizer
        self.model_name = model_name
        self.device = device
        config = model.config if model is not None else config
        self.max_context = int(getattr(config, "max_position_embeddings", 0) or 2048)
        gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        eos: set[int] = set()
        for value in (tokenizer.eos_token_id, gen_eos):
            if isinstance(value, int):
                eos.add(value)
            elif isinstance(value, (list, tuple)):
                eos.update(int(v) for v in value)
        self.eos_ids = eos
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else (min(eos) if eos else 0))
        self._vocab = TokenBytes(tokenizer)
        self._scorer = PrefixScorer(
            torch=torch, model=model, device=device, pad_id=self.pad_id, tops=self._tops
        )
        self._lock = threading.Lock()

    @classmethod
    def load(cls, spec: EngineSpec, *, model_name: str, tokenizer_only: bool = False) -> HfEngine:
        """Load model and tokenizer (``tokenizer_only``: the text side for a remote engine)."""
        torch, transformers = _import_torch_transformers()
        path = Path(spec.path)
        if path.is_file() and path.suffix == ".gguf":
            from ..home import nemo_eval_home

            path = convert_gguf(path, gguf_cache_dir(path, home=nemo_eval_home()))
        if not (path / "config.json").is_file():
            raise CheckpointError(
                f"{spec.path} is not a Hugging Face model directory (no config.json) "
                "nor a .gguf file: pass one of those, or a .nemo checkpoint"
            )
        device = spec.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.float32 if device == "cpu" else "auto"
        if device == "cpu":
            threads = cpu_thread_count(spec.cpu_threads)
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
            log.info("hf engine on CPU with %d torch thread(s)", threads)
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(path))
        if tokenizer_only:
            config = transformers.AutoConfig.from_pretrained(str(path))
            return cls(
                model=None, tokenizer=tokenizer, model_name=model_name, device=device, config=config
            )
        model = transformers.AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype)
        model.to(device)
        model.eval()
        return cls(model=model, tokenizer=tokenizer, model_name=model_name, device=device)

    # -- text handling -------------------------------------------------------------------

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=special)["input_ids"])

    def detokenize(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=False))

    def token_bytes(self, ids: list[int]) -> list[bytes]:
        return split_bytes(ids, vocab=self._vocab, detokenize=self.detokenize)

    def _spell(self, token_id: int) -> str:
        """One token as the OpenAI layout spells it (a top-logprobs key)."""
        piece = self._vocab.of([token_id])
        return token_string(piece[0]) if piece is not None else self.detokenize([token_id])

    def chat_prompt(self, messages: list[dict[str, Any]]) -> str:
        if not getattr(self.tokenizer, "chat_template", None):
            from ..errors import RequestError

            raise RequestError(
                f"model {self.model_name} has no chat template: use /v1/completions instead"
            )
        return str(
            self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        )

    # -- generation ----------------------------------------------------------------------

    def batch_rows(self, requests: list[GenerateRequest]) -> int:
        """Sequences in the first forward pass of ``generate(requests)``: one per shared
        prefix of the scoring requests, one per request otherwise."""
        scoring = [r for r in requests if is_scoring(r)]
        return len(group_by_prefix(scoring)) + len(requests) - len(scoring)

    def generate(self, requests: list[GenerateRequest]) -> list[GenerateResult]:
        """Scoring requests share their prefixes (``hf_scoring``); the others are decoded."""
        scoring = [i for i, r in enumerate(requests) if is_scoring(r)]
        decoding = [i for i, r in enumerate(requests) if not is_scoring(r)]
        results: list[GenerateResult | None] = [None] * len(requests)
        with self._lock, self._torch.inference_mode():
            if scoring:
                scored, nexts = self._scorer.score([requests[i] for i in scoring])
                for j, logprobs in nexts.items():
                    self._greedy_token(requests[scoring[j]], scored[j], logprobs)
                for i, res in zip(scoring, scored, strict=True):
                    results[i] = res
            if decoding:
                decoded = self._decode([requests[i] for i in decoding])
                for i, res in zip(decoding, decoded, strict=True):
                    results[i] = res
        return [r for r in results if r is not None]

    def _greedy_token(self, req: GenerateRequest, result: GenerateResult, logprobs: Any) -> None:
        """The one greedy token of a scored request, recorded as ``_decode`` records it."""
        row = self._row(req, result)
        if not row.done:
            self._record(row, int(self._torch.argmax(logprobs)), logprobs)
        if not row.cut:
            result.text = self.detokenize(result.token_ids)

    def _tops(self, logprob_rows: Any, k: int) -> list[dict[str, float]]:
        """The top-``k`` alternatives of each row of log-probabilities (``{}`` when k is 0)."""
        if k <= 0:
            return [{} for _ in range(len(logprob_rows))]
        values, indices = self._torch.topk(logprob_rows, k, dim=-1)
        return [
            {self._spell(int(i)): float(v) for v, i in zip(vs, ix, strict=True)}
            for vs, ix in zip(values.tolist(), indices.tolist(), strict=True)
        ]

    def _decode(self, reqs: list[GenerateRequest]) -> list[GenerateResult]:
        rows = [self._new_row(r) for r in reqs]
        batch = self._prefill(rows)
        steps = max(row.budget for row in rows)
        for step in range(steps):
            chosen = self._step(rows, batch.last)
            if all(row.done for row in rows) or step == steps - 1:
                break
            batch = self._extend(batch, chosen)
        for row in rows:
            if not row.cut:
                row.result.text = self.detokenize(row.result.token_ids)
        return [row.result for row in rows]

    def _new_row(self, req: GenerateRequest) -> _Row:
        result = GenerateResult(
            prompt_ids=list(req.prompt_ids), token_ids=[], text="", finish_reason="length"
        )
        if req.logprobs is not None:
            result.token_logprobs, result.top_logprobs = [], []
        return self._row(req, result)

    def _row(self, req: GenerateRequest, result: GenerateResult) -> _Row:
        generator = self._torch.Generator(device=self.device)
        generator.manual_seed(req.seed if req.seed is not None else random.getrandbits(63))
        budget = token_budget(req, max_context=self.max_context)
        return _Row(req=req, result=result, generator=generator, budget=budget, done=budget == 0)

    def _prefill(self, rows: list[_Row]) -> _Batch:
        """One forward pass over the left-padded prompts; echo log-probabilities on the way."""
        torch = self._torch
        lengths = [len(row.req.prompt_ids) for row in rows]
        width = max(lengths)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, width - lengths[i] :] = torch.tensor(row.req.prompt_ids, dtype=torch.long)
            mask[i, width - lengths[i] :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        score_prompt = any(row.scores_prompt for row in rows)
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=0 if score_prompt else 1,
        )
        for i, row in enumerate(rows):
            if row.scores_prompt:
                self._echo(row, out.logits[i, width - lengths[i] : width - 1])
        return _Batch(
            last=out.logits[:, -1, :].float(),
            past=out.past_key_values,
            mask=mask,
            positions=positions,
        )

    def _echo(self, row: _Row, logits: Any) -> None:
        """The prompt tokens' log-probabilities (the first has none) and their top-k."""
        torch = self._torch
        logp = torch.log_softmax(logits.float(), dim=-1)
        targets = torch.tensor(row.req.prompt_ids[1:], dtype=torch.long, device=logp.device)
        chosen = logp.gather(-1, targets[:, None])[:, 0].tolist() if len(targets) else []
        row.result.prompt_logprobs = [None, *chosen]
        tops = self._tops(logp, row.req.logprobs or 0) if chosen else []
        row.result.prompt_top_logprobs = [None, *tops]

    def _step(self, rows: list[_Row], last: Any) -> Any:
        """Pick each live row's next token from ``last`` and record it; the picks as a tensor."""
        torch = self._torch
        wants = any(row.req.logprobs is not None for row in rows)
        logprobs = torch.log_softmax(last, dim=-1) if wants else None
        # Greedy rows in one argmax over the batch; only sampled rows need their own draw.
        picks = torch.argmax(last, dim=-1).tolist()
        for i, row in enumerate(rows):
            if row.done:
                picks[i] = self.pad_id
            elif row.req.temperature > 0:
                picks[i] = self._pick(last[i], row.req, row.generator)
        for i, row in enumerate(rows):
            if not row.done:
                self._record(row, picks[i], logprobs[i] if logprobs is not None else None)
        return torch.tensor(picks, dtype=torch.long, device=last.device)

    def _record(self, row: _Row, token: int, logprobs: Any) -> None:
        """Append one generated token to its row, or end the row (EOS, stop string, budget)."""
        res, req = row.result, row.req
        # how many alternatives to report per token; None: this request reports no logprobs
        top_n = req.logprobs if logprobs is not None else None
        if token in self.eos_ids:
            res.finish_reason = "stop"
            row.done = True
            if top_n is not None:
                # report the end-of-sequence token like OpenAI's API: log-likelihood
                # clients (lm-eval's local-completions) drop exactly one generated token
                res.stop_token = token
                record_logprob(res, logprobs[token], self._tops(logprobs[None], top_n)[0])
            return
        res.token_ids.append(token)
        if top_n is not None:
            record_logprob(res, logprobs[token], self._tops(logprobs[None], top_n)[0])
        if req.stop and trim_at_stop(res, req.stop, self.detokenize):
            row.done = row.cut = True
        elif len(res.token_ids) >= row.budget:
            row.done = True

    def _extend(self, batch: _Batch, chosen: Any) -> _Batch:
        """One decode step: the picked tokens through the model on top of the cache."""
        torch = self._torch
        ones = torch.ones((len(chosen), 1), dtype=batch.mask.dtype, device=batch.mask.device)
        mask = torch.cat([batch.mask, ones], 1)
        positions = batch.positions[:, -1:] + 1
        out = self.model(
            input_ids=chosen[:, None],
            attention_mask=mask,
            position_ids=positions,
            past_key_values=batch.past,
            use_cache=True,
        )
        return _Batch(
            last=out.logits[:, -1, :].float(),
            past=out.past_key_values,
            mask=mask,
            positions=positions,
        )

    def _pick(self, logits: Any, req: GenerateRequest, generator: Any) -> int:
        torch = self._torch
        if req.temperature <= 0:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits / req.temperature, dim=-1)
        if req.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            keep = (sorted_probs.cumsum(-1) - sorted_probs) < req.top_p
            keep[0] = True
            filtered = torch.zeros_like(probs)
            filtered[order[keep]] = sorted_probs[keep]
            probs = filtered / filtered.sum()
        return int(torch.multinomial(probs, 1, generator=generator))
