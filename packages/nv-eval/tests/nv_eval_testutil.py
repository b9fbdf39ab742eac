"""Helpers shared by the nv-eval tests."""

from __future__ import annotations

import time
from pathlib import Path

import yaml


def write_config(directory: Path, name: str, **sections: object) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    data = {"defaults": ["_self_"], **sections}
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def eval_config(
    url: str, *, tasks: str = "gsm8k", limit: int = 8, output_dir: str = "results"
) -> dict:
    return {
        "type": tasks,
        "output_dir": output_dir,
        "params": {"limit_samples": limit, "parallelism": 2, "extra": {"dataset": "sample"}},
    }


def wait_for(predicate, *, timeout: float = 60.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
