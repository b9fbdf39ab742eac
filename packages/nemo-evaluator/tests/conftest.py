"""Real benchmark files for the tests: the shared datasets folder, never a download."""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_data import MISSING, SHARED


@pytest.fixture
def shared_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point NEMO_EVALUATOR_DATA_DIR at the shared datasets; forbid downloads."""
    if MISSING:
        pytest.skip(MISSING)
    monkeypatch.setenv("NEMO_EVALUATOR_DATA_DIR", str(SHARED))
    monkeypatch.setenv("NEMO_EVALUATOR_OFFLINE", "1")
    monkeypatch.setenv("NEMO_EVALUATOR_HOME", str(tmp_path / "home"))
    return SHARED


@pytest.fixture
def shared_data_path() -> Path:
    """The shared datasets folder, without touching the environment."""
    if MISSING:
        pytest.skip(MISSING)
    return SHARED
