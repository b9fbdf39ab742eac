"""Fixtures of the cross-package tests: shared data, free ports, a real single-node Slurm."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from stack_testutil import load_local_slurm, shared_datasets

from nvidia_eval_commons.net import free_port

local_slurm = load_local_slurm()


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


# a real single-node Slurm for this session: the one fixture of packages/nv-eval/tests
slurm_cluster = local_slurm.slurm_cluster_fixture(
    prefix="examples-slurm-", port_env="EXAMPLES_TEST_SLURM_PORT", default_port="16937"
)
