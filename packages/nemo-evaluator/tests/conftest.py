"""Real benchmark files for the tests: the shared datasets folder, never a download."""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_data import SHARED


@pytest.fixture
def shared_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point NEMO_EVALUATOR_DATA_DIR at the shared datasets; forbid downloads."""
    if not (SHARED / "gsm8k" / "test.jsonl").is_file():
        pytest.skip(f"shared datasets not found at {SHARED}; set NEMO_EVALUATOR_TEST_DATA")
    monkeypatch.setenv("NEMO_EVALUATOR_DATA_DIR", str(SHARED))
    monkeypatch.setenv("NEMO_EVALUATOR_OFFLINE", "1")
    monkeypatch.setenv("NEMO_EVALUATOR_HOME", str(tmp_path / "home"))
    return SHARED


@pytest.fixture
def shared_data_path() -> Path:
    """The shared datasets folder, without touching the environment."""
    if not (SHARED / "gsm8k" / "test.jsonl").is_file():
        pytest.skip(f"shared datasets not found at {SHARED}; set NEMO_EVALUATOR_TEST_DATA")
    return SHARED
