"""Helpers of the cross-package tests (imported by conftest.py and the tests)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
LOCAL_SLURM = ROOT / "packages" / "nv-eval" / "tests" / "local_slurm.py"


def load_local_slurm() -> ModuleType:
    """nv-eval's test helper that starts a real single-node Slurm (one copy for both suites)."""
    spec = importlib.util.spec_from_file_location("local_slurm", LOCAL_SLURM)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shared_datasets() -> Path | None:
    """The real benchmark files beside the checkout (../shared/datasets)."""
    path = Path(os.environ.get("NEMO_EVALUATOR_TEST_DATA", ROOT.parent / "shared" / "datasets"))
    return path if (path / "gsm8k" / "test.jsonl").is_file() else None


def run(cmd: list[str], *, env: dict[str, str], cwd: Path, timeout: float) -> str:
    """Run an example; fail with its output when it fails."""
    res = subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, f"{' '.join(cmd)} exited {res.returncode}:\n{out[-6000:]}"
    return out
