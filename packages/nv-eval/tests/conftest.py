"""Shared fixtures: an isolated store, a real OpenAI-compatible server, a real Slurm."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SLURM_SCRIPT = HERE / "slurm_cluster.sh"


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


def _slurm_missing() -> str | None:
    if sys.platform != "linux":
        return "Slurm tests need Linux"
    for tool in ("slurmctld", "slurmd", "munged", "sbatch", "mungekey"):
        if shutil.which(tool) is None:
            return f"{tool} not found: apt-get install -y slurm-wlm munge"
    if os.geteuid() != 0:
        return "the Slurm fixture runs its daemons as root"
    return None


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real single-node Slurm (munge + slurmctld + slurmd), started for this session."""
    reason = _slurm_missing()
    if reason:
        pytest.skip(reason)
    # munged wants every directory above its socket to be a+x: a fresh dir right under /tmp
    base = Path(tempfile.mkdtemp(prefix="nv-eval-slurm-", dir="/tmp"))
    base.chmod(0o755)
    env = {
        **os.environ,
        "SLURM_BASE": str(base),
        "SLURM_PORT": os.environ.get("NV_EVAL_TEST_SLURM_PORT", "16917"),
        "SLURM_LINK_ETC": "0",
        "SLURM_CONF": str(base / "etc" / "slurm.conf"),
    }
    res = subprocess.run(
        ["bash", str(SLURM_SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=120
    )
    if res.returncode != 0:
        pytest.fail(f"the Slurm fixture did not start: {res.stderr[-2000:]}")
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = env["SLURM_CONF"]
    try:
        yield {"SLURM_CONF": env["SLURM_CONF"], "base": str(base)}
    finally:
        subprocess.run(
            ["bash", str(SLURM_SCRIPT), "stop"], env=env, capture_output=True, timeout=120
        )
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old
        shutil.rmtree(base, ignore_errors=True)
