"""Shared fixtures: an isolated store, a real OpenAI-compatible server, a real Slurm."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from local_slurm import slurm_cluster_fixture


@pytest.fixture
def nv_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("NV_EVAL_HOME", str(home))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    return home


@pytest.fixture(scope="session")
def stub() -> Iterator[object]:
    from nemo_evaluator.testing import OpenAIStubServer

    with OpenAIStubServer(model="stub-model", latency_s=0.02) as server:
        yield server


slurm_cluster = slurm_cluster_fixture(
    prefix="nv-eval-slurm-", port_env="NV_EVAL_TEST_SLURM_PORT", default_port="16917"
)
