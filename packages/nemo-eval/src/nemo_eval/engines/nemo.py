"""The ``nemo`` engine: NeMo 2 checkpoints on CUDA GPUs through nemo-toolkit's inference API.

Release: nemo-toolkit 2.5.3 with megatron-core 0.14.0 (``pip install 'nemo-eval[nemo]'``).
2.5 is the last release line that ships both the LLM collection's inference API
(``nemo.collections.llm.inference``: ``setup_model_and_tokenizer``) and NeMo's own Triton
deployable for it (``nemo.deploy.nlp.megatronllm_deployable``, whose echo log-probabilities this
engine reproduces); 2.6 moved deployment out of the toolkit. nemo-toolkit 2.5.3 requires
megatron-core >= 0.14.0 (``nemo/lightning/megatron_parallel.py``) without pinning it, and 0.14.0
is the first release whose static engine can run past the end-of-sequence token
(``no_early_termination``), which exact log-likelihoods need. Every NeMo and Megatron name
used below was checked against those two wheels.

Two formats are recognised: a ``.nemo`` archive (a tar file with ``model_config.yaml``) and a
NeMo 2 directory (``context/`` with ``model.yaml`` or ``io.json``, plus ``weights/``). Either is
inspected on the CPU with the standard library and PyYAML, so a wrong path or format fails at
once, before any GPU or NeMo import. Then, in this order: torch, a CUDA GPU, nemo-toolkit; each
missing one is a one-line error. Only NeMo 2 directories are served (the inference API reads
``context/`` and ``weights/``); a NeMo 1 ``.nemo`` archive is refused with the conversion to use.

Tensor and pipeline parallelism above 1 need one process per GPU started by ``torchrun``:
rank 0 serves HTTP and broadcasts each batch; the other ranks follow inside ``load`` and exit
when rank 0 does. Request and result mapping lives in ``nemo_inference`` (CPU-tested).
"""

from __future__ import annotations

import atexit
import logging
import os
import tarfile
import threading
from pathlib import Path
from typing import Any

from ..errors import (
    CheckpointError,
    DeployConfigError,
    HardwareError,
    RequestError,
    missing_extra,
)
from .base import EngineSpec, GenerateRequest, GenerateResult
from .nemo_inference import (
    SamplingKey,
    build_result,
    context_length,
    group_requests,
    megatron_sampling_kwargs,
)
from .token_bytes import TokenBytes, split_bytes

log = logging.getLogger(__name__)
DEFAULT_MAX_SEQ_LENGTH = 4096

NEMO_INSTALL = "pip install 'nemo-eval[nemo]'"
NEMO_RELEASE = "nemo-toolkit 2.5.3 (megatron-core 0.14.0)"


def _yaml_load(text: str | bytes, source: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CheckpointError(f"{source} is not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{source} does not hold a model config mapping")
    return data


def inspect_nemo_checkpoint(path: Path) -> dict[str, Any]:
    """Read the model config of a ``.nemo`` archive or NeMo 2 directory (CPU only)."""
    path = Path(path)
    if path.is_dir():
        for name in ("context/model.yaml", "context/model_config.yaml"):
            if (path / name).is_file():
                return _yaml_load((path / name).read_text(), str(path / name))
        if (path / "context" / "io.json").is_file():
            import json

            return dict(json.loads((path / "context" / "io.json").read_text()))
        raise CheckpointError(
            f"{path} has no context/model.yaml or context/io.json: not a NeMo 2 checkpoint"
        )
    try:
        with tarfile.open(path, "r:*") as tar:
            member = next(
                (
                    m
                    for m in tar.getmembers()
                    if m.isfile() and m.name.endswith("model_config.yaml")
                ),
                None,
            )
            if member is None:
                raise CheckpointError(f"{path} holds no model_config.yaml: not a .nemo checkpoint")
            handle = tar.extractfile(member)
            assert handle is not None
            return _yaml_load(handle.read(), f"{path}:{member.name}")
    except (tarfile.TarError, OSError) as exc:
        # tarfile lists every compression it tried, one per line; keep the message one line
        reason = " ".join(str(exc).split())
        raise CheckpointError(
            f"{path} is not a .nemo archive (a tar file): {reason}; pass a .nemo file, "
            "a NeMo 2 directory, a Hugging Face directory or a .gguf file"
        ) from None


def check_nemo_runtime(spec: EngineSpec) -> dict[str, Any]:
    """The CPU-side checks, in order: checkpoint config, torch, a CUDA GPU, nemo-toolkit."""
    config = inspect_nemo_checkpoint(Path(spec.path))
    try:
        import torch
    except ImportError:
        raise missing_extra("hf", module="torch", purpose="The nemo engine") from None
    if not torch.cuda.is_available():
        raise HardwareError(
            f"the nemo engine needs a CUDA GPU and this machine has none; serve {spec.path} "
            "on a GPU machine, or serve a Hugging Face directory or GGUF file on the CPU"
        )
    try:
        import nemo.collections.llm  # noqa: F401
    except ImportError:
        raise missing_extra(
            "nemo",
            module="nemo.collections.llm",
            purpose="The nemo engine",
            install=NEMO_INSTALL,
        ) from None
    return config


def _world() -> tuple[int, int]:
    """(rank, world size) as torchrun sets them; (0, 1) in a plain process."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


class NemoEngine:
    """A NeMo 2 checkpoint behind megatron-core's static inference engine (GPU only)."""

    def __init__(
        self,
        *,
        mcore_engine: Any,
        tokenizer: Any,
        model_name: str,
        max_context: int,
        world_size: int = 1,
    ) -> None:
        self._mcore = mcore_engine
        self._wrapper = tokenizer  # nemo's MCoreTokenizerWrappper
        nemo_tokenizer = getattr(tokenizer, "tokenizer", None)
        hf = getattr(nemo_tokenizer, "tokenizer", None)
        # NeMo's AutoTokenizer wraps a transformers tokenizer: use it directly so token ids,
        # special tokens and the chat template are exactly the hf engine's
        self._hf = hf if callable(hf) and hasattr(hf, "apply_chat_template") else None
        self._nemo_tokenizer: Any = nemo_tokenizer
        self._vocab = TokenBytes(self._hf) if self._hf is not None else None
        self.model_name = model_name
        self.max_context = max_context
        eos: set[int] = set()
        for value in (getattr(tokenizer, "eod", None), getattr(self._hf, "eos_token_id", None)):
            if isinstance(value, int):
                eos.add(value)
        self.eos_ids = eos
        self._world_size = world_size
        self._lock = threading.Lock()

    @classmethod
    def load(cls, spec: EngineSpec, *, model_name: str) -> NemoEngine:
        config = check_nemo_runtime(spec)
        path = Path(spec.path)
        if not path.is_dir():
            raise CheckpointError(
                f"{path} is a NeMo 1 .nemo archive; {NEMO_RELEASE} serves NeMo 2 checkpoint "
                "directories: convert it with NeMo's scripts/checkpoint_converters/"
                "convert_nemo1_to_nemo2.py, or export it to a Hugging Face directory"
            )
        import torch

        tp, pp = spec.tensor_parallelism_size, spec.pipeline_parallelism_size
        devices = tp * pp
        rank, world = _world()
        if devices > 1 and world != devices:
            raise DeployConfigError(
                f"tensor_parallelism_size={tp} x pipeline_parallelism_size={pp} needs {devices} "
                f"processes, one per GPU, and this is {world}: start with `torchrun "
                f"--nproc-per-node {devices} $(command -v nemo-eval) deploy --backend embedded ...`"
            )
        if torch.cuda.device_count() < devices and world == 1:
            raise HardwareError(
                f"tensor x pipeline parallelism {devices} needs {devices} GPUs and this machine "
                f"has {torch.cuda.device_count()}"
            )
        max_context = context_length(config) or DEFAULT_MAX_SEQ_LENGTH
        mcore_engine, tokenizer = cls._build(path, tp=tp, pp=pp, max_seq_length=max_context)
        engine = cls(
            mcore_engine=mcore_engine,
            tokenizer=tokenizer,
            model_name=model_name,
            max_context=max_context,
            world_size=world,
        )
        if world > 1:
            if rank != 0:
                engine.follow()
                raise SystemExit(0)
            atexit.register(engine.release_followers)
        return engine

    @staticmethod
    def _build(path: Path, *, tp: int, pp: int, max_seq_length: int) -> tuple[Any, Any]:
        """Restore the checkpoint with nemo's inference API and wrap megatron's engine."""
        import nemo.lightning as nl
        import torch
        from megatron.core.inference.engines.mcore_engine import MCoreEngine
        from megatron.core.inference.text_generation_controllers.text_generation_controller import (
            TextGenerationController,
        )
        from nemo.collections.llm import inference

        strategy = nl.MegatronStrategy(
            tensor_model_parallel_size=tp,
            pipeline_model_parallel_size=pp,
            context_parallel_size=1,
            sequence_parallel=False,
            setup_optimizers=False,
        )
        trainer = nl.Trainer(
            accelerator="gpu",
            devices=tp * pp,
            num_nodes=1,
            strategy=strategy,
            plugins=nl.MegatronMixedPrecision(
                precision="bf16-mixed",
                params_dtype=torch.bfloat16,
                pipeline_dtype=torch.bfloat16,
                autocast_enabled=False,
                grad_reduce_in_fp32=False,
            ),
        )
        model, tokenizer = inference.setup_model_and_tokenizer(
            path=path,
            trainer=trainer,
            params_dtype=torch.bfloat16,
            inference_max_seq_length=max_seq_length,
            enable_flash_decode=False,
        )
        controller = TextGenerationController(inference_wrapped_model=model, tokenizer=tokenizer)
        # random_seed=None: seeds are set per batch (see _run_group), not once per engine
        return MCoreEngine(text_generation_controller=controller, random_seed=None), tokenizer

    # -- text handling -------------------------------------------------------------------

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        if self._hf is not None:
            return list(self._hf(text, add_special_tokens=special)["input_ids"])
        return [int(i) for i in self._nemo_tokenizer.text_to_ids(text)]

    def detokenize(self, ids: list[int]) -> str:
        # the wrapper megatron itself uses for its top-k keys, so both spell tokens alike
        return str(self._wrapper.detokenize(list(ids)))

    def token_bytes(self, ids: list[int]) -> list[bytes]:
        return split_bytes(ids, vocab=self._vocab, detokenize=self.detokenize)

    def chat_prompt(self, messages: list[dict[str, Any]]) -> str:
        if self._hf is None or not getattr(self._hf, "chat_template", None):
            raise RequestError(
                f"model {self.model_name} has no chat template: use /v1/completions instead"
            )
        return str(
            self._hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        )

    # -- generation ----------------------------------------------------------------------

    def generate(self, requests: list[GenerateRequest]) -> list[GenerateResult]:
        with self._lock:
            groups = group_requests(requests, max_context=self.max_context)
            if self._world_size > 1:
                self._broadcast(
                    {"requests": [r.to_dict() for r in requests], "groups": _plain(groups)}
                )
            return self._run(requests, groups)

    def _run(
        self, requests: list[GenerateRequest], groups: list[tuple[SamplingKey, list[int]]]
    ) -> list[GenerateResult]:
        results: list[GenerateResult | None] = [None] * len(requests)
        for key, indices in groups:
            outs = self._run_group(key, [requests[i] for i in indices])
            for i, res in zip(indices, outs, strict=True):
                results[i] = res
        assert all(r is not None for r in results)
        return results  # type: ignore[return-value]

    def _run_group(self, key: SamplingKey, reqs: list[GenerateRequest]) -> list[GenerateResult]:
        import torch
        from megatron.core.inference.inference_request import InferenceRequest
        from megatron.core.inference.sampling_params import SamplingParams

        params = SamplingParams(**megatron_sampling_kwargs(key))
        if key.no_early_termination:
            params.add_attributes({"no_early_termination": True})
        if key.seed is not None:
            torch.manual_seed(key.seed)
        batch = [
            InferenceRequest(
                request_id=self._mcore.get_new_request_id(),
                prompt=self.detokenize(r.prompt_ids),
                prompt_tokens=list(r.prompt_ids),
                sampling_params=params,
            )
            for r in reqs
        ]
        outs = self._mcore.generate(inference_requests=batch)
        self._forget([b.request_id for b in batch])
        return [
            build_result(
                req,
                tokens=_as_list(out.generated_tokens),
                key=key,
                eos_ids=self.eos_ids,
                detokenize=self.detokenize,
                generated_log_probs=_as_list(out.generated_log_probs),
                generated_top=out.generated_top_n_logprobs,
                prompt_log_probs=_as_list(out.prompt_log_probs),
                prompt_top=out.prompt_top_n_logprobs,
            )
            for req, out in zip(reqs, outs, strict=True)
        ]

    def _forget(self, request_ids: list[str]) -> None:
        """Drop finished requests from megatron's scheduler, which keeps them forever."""
        scheduler = self._mcore.scheduler
        for rid in request_ids:
            scheduler.completed_request_pool.pop(rid, None)
            getattr(scheduler, "requests", {}).pop(rid, None)

    # -- ranks other than 0 (torchrun) ---------------------------------------------------

    def _broadcast(self, payload: dict[str, Any] | None) -> dict[str, Any] | None:
        import torch.distributed as dist

        box = [payload]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def follow(self) -> None:
        """Run every batch rank 0 broadcasts, until it broadcasts the end."""
        while (payload := self._broadcast(None)) is not None:
            requests = [GenerateRequest.from_dict(d) for d in payload["requests"]]
            groups = [(SamplingKey(**k), list(idx)) for k, idx in payload["groups"]]
            self._run(requests, groups)

    def release_followers(self) -> None:
        """Rank 0 at exit: tell the other ranks to stop following."""
        try:
            self._broadcast(None)
        except Exception as exc:  # the process group may already be gone at exit
            log.warning("could not release the other ranks: %s", exc)


def _plain(groups: list[tuple[SamplingKey, list[int]]]) -> list[tuple[dict[str, Any], list[int]]]:
    import dataclasses

    return [(dataclasses.asdict(key), indices) for key, indices in groups]


def _as_list(value: Any) -> Any:
    """Megatron returns tensors for some fields and lists for others."""
    return value.tolist() if hasattr(value, "tolist") else value
