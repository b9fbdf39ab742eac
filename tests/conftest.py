"""Fixtures of the cross-package tests: shared data, free ports, a real single-node Slurm."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from stack_testutil import SLURM_SCRIPT, free_port, shared_datasets


@pytest.fixture
def example_env(tmp_path: Path) -> dict[str, str]:
    """Environment of an example run: its own launcher home, offline data, quiet output."""
    data = shared_datasets()
    if data is None:
        pytest.skip("needs ../shared/datasets beside the checkout (or NEMO_EVALUATOR_TEST_DATA)")
    env = {
        **os.environ,
        "NV_EVAL_HOME": str(tmp_path / "nv-eval-home"),
        "NEMO_EVALUATOR_DATA_DIR": str(data),
        "NEMO_EVALUATOR_OFFLINE": "1",
        "WANDB_MODE": "offline",
        "PYTHONUNBUFFERED": "1",
        "EXAMPLE_PORT": str(free_port()),
    }
    env.pop("WANDB_API_KEY", None)
    # the scripts call the CLIs of this environment
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _slurm_missing() -> str | None:
    for tool in ("slurmctld", "slurmd", "munged", "sbatch", "mungekey"):
        if shutil.which(tool) is None:
            return f"{tool} not found: apt-get install -y slurm-wlm munge"
    if os.geteuid() != 0:
        return "the Slurm fixture runs its daemons as root"
    return None


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[dict[str, str]]:
    """A real single-node Slurm for this session (the recipe in packages/nv-eval/tests)."""
    reason = _slurm_missing()
    if reason:
        pytest.skip(reason)
    base = Path(tempfile.mkdtemp(prefix="examples-slurm-", dir="/tmp"))
    base.chmod(0o755)
    env = {
        **os.environ,
        "SLURM_BASE": str(base),
        "SLURM_PORT": os.environ.get("EXAMPLES_TEST_SLURM_PORT", "16937"),
        "SLURM_LINK_ETC": "0",
        "SLURM_CONF": str(base / "etc" / "slurm.conf"),
    }
    res = subprocess.run(
        ["bash", str(SLURM_SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=120
    )
    if res.returncode != 0:
        pytest.fail(f"the Slurm fixture did not start: {res.stderr[-2000:]}")
    try:
        yield {"SLURM_CONF": env["SLURM_CONF"]}
    finally:
        subprocess.run(
            ["bash", str(SLURM_SCRIPT), "stop"], env=env, capture_output=True, timeout=120
        )
        shutil.rmtree(base, ignore_errors=True)
