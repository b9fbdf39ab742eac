"""lm-eval bridge tests: skipped, with the reason, when the lm-eval extra is not installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SKIP_REASON = (
    "lm-evaluation-harness is not installed; install the extra with "
    "`uv sync --extra lm-eval` (pip install 'nemo-evaluator[lm-eval]')"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if importlib.util.find_spec("lm_eval") is not None:
        return
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Hugging Face hub: a dataset that is not local fails at once. The libraries read the
    variables when first imported, so their switches are set too."""
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
