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

    def token_strings(self, ids: list[int]) -> list[str]:
        return [self.detokenize([i]) for i in ids]

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

    def generate(self, requests: list[GenerateRequest]) -> list[GenerateResult]:
        with self._lock, self._torch.inference_mode():
            return self._generate(requests)

    def _top(self, logprobs_row: Any, k: int) -> dict[str, float]:
        if k <= 0:
            return {}
        values, indices = self._torch.topk(logprobs_row, k)
        return {
            self.detokenize([int(i)]): float(v)
            for v, i in zip(values.tolist(), indices.tolist(), strict=False)
        }

    def _generate(self, reqs: list[GenerateRequest]) -> list[GenerateResult]:
        torch = self._torch
        n = len(reqs)
        lengths = [len(r.prompt_ids) for r in reqs]
        width = max(lengths)
        ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for i, r in enumerate(reqs):
            ids[i, width - lengths[i] :] = torch.tensor(r.prompt_ids, dtype=torch.long)
            mask[i, width - lengths[i] :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        score_prompt = any(r.echo and r.logprobs is not None for r in reqs)
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=0 if score_prompt else 1,
        )
        results = [
            GenerateResult(
                prompt_ids=list(r.prompt_ids), token_ids=[], text="", finish_reason="length"
            )
            for r in reqs
        ]
        for i, r in enumerate(reqs):
            if not (r.echo and r.logprobs is not None):
                continue
            start = width - lengths[i]
            row = torch.log_softmax(out.logits[i, start : width - 1].float(), dim=-1)
            targets = torch.tensor(r.prompt_ids[1:], dtype=torch.long, device=row.device)
            chosen = row.gather(-1, targets[:, None])[:, 0].tolist() if len(targets) else []
            results[i].prompt_logprobs = [None, *chosen]
            results[i].prompt_top_logprobs = [None] + [
                self._top(row[j], r.logprobs) for j in range(len(chosen))
            ]
        last = out.logits[:, -1, :].float()
        past = out.past_key_values
        del out

        generators = []
        for r in reqs:
            g = torch.Generator(device=self.device)
            g.manual_seed(r.seed if r.seed is not None else random.getrandbits(63))
            generators.append(g)
        wants_logprobs = [r.logprobs is not None for r in reqs]
        for i in range(n):
            if wants_logprobs[i]:
                results[i].token_logprobs, results[i].top_logprobs = [], []
        budget = [token_budget(r, max_context=self.max_context) for r in reqs]
        done = [b == 0 for b in budget]
        cut = [False] * n
        steps = max(budget)
        for step in range(steps):
            logprobs = torch.log_softmax(last, dim=-1) if any(wants_logprobs) else None
            # Greedy rows in one argmax over the batch; only sampled rows need their own draw.
            picks = torch.argmax(last, dim=-1).tolist()
            for i, r in enumerate(reqs):
                if done[i]:
                    picks[i] = self.pad_id
                elif r.temperature > 0:
                    picks[i] = self._pick(last[i], r, generators[i])
            chosen = torch.tensor(picks, dtype=torch.long, device=last.device)
            for i, r in enumerate(reqs):
                if done[i]:
                    continue
                token = picks[i]
                if token in self.eos_ids:
                    results[i].finish_reason = "stop"
                    done[i] = True
                    if logprobs is not None and wants_logprobs[i]:
                        # report the end-of-sequence token like OpenAI's API: log-likelihood
                        # clients (lm-eval's local-completions) drop exactly one generated token
                        results[i].stop_token = token
                        record_logprob(
                            results[i], logprobs[i, token], self._top(logprobs[i], r.logprobs or 0)
                        )
                    continue
                results[i].token_ids.append(token)
                if logprobs is not None and wants_logprobs[i]:
                    record_logprob(
                        results[i], logprobs[i, token], self._top(logprobs[i], r.logprobs or 0)
                    )
                if r.stop and trim_at_stop(results[i], r.stop, self.detokenize):
                    done[i] = cut[i] = True
                elif len(results[i].token_ids) >= budget[i]:
                    done[i] = True
            if all(done) or step == steps - 1:
                break
            mask = torch.cat([mask, torch.ones((n, 1), dtype=mask.dtype, device=mask.device)], 1)
            positions = positions[:, -1:] + 1
            out = self.model(
                input_ids=chosen[:, None],
                attention_mask=mask,
                position_ids=positions,
                past_key_values=past,
                use_cache=True,
            )
            last = out.logits[:, -1, :].float()
            past = out.past_key_values
        for i, res in enumerate(results):
            if not cut[i]:
                res.text = self.detokenize(res.token_ids)
        return results

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
