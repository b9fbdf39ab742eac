"""Fixtures of every evaluator test: the shared datasets folder (never a download) and a plain
stub upstream on loopback (``upstream``; the core tests' gsm8k-answering one is
``gsm8k_upstream``)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from shared_data import MISSING, SHARED

from nemo_evaluator.testing import OpenAIStubServer


def pytest_configure(config: pytest.Config) -> None:
    """Let the Ctrl-C tests' child processes see SIGINT even when pytest itself was started as a
    shell's background job (``cmd &`` without job control ignores SIGINT, and an ignored signal
    stays ignored across exec); a Python handler here becomes the default one in a child."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


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


@pytest.fixture
def upstream() -> Iterator[OpenAIStubServer]:
    """A plain OpenAI-compatible stub on 127.0.0.1 serving ``stub-model``."""
    with OpenAIStubServer(model="stub-model", threads=16) as server:
        yield server
