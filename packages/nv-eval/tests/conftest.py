"""Shared fixtures: an isolated store, a real OpenAI-compatible server, a real Slurm."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_slurm import SlurmStartError, local_slurm, missing_reason


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


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[dict[str, str]]:
    """A real single-node Slurm (munge + slurmctld + slurmd), started for this session."""
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    port = os.environ.get("NV_EVAL_TEST_SLURM_PORT", "16917")
    try:
        with local_slurm(prefix="nv-eval-slurm-", port=port) as conf:
            old = os.environ.get("SLURM_CONF")
            os.environ["SLURM_CONF"] = str(conf)
            try:
                yield {"SLURM_CONF": str(conf), "base": str(conf.parent.parent)}
            finally:
                if old is None:
                    os.environ.pop("SLURM_CONF", None)
                else:
                    os.environ["SLURM_CONF"] = old
    except SlurmStartError as exc:
        pytest.fail(str(exc))
