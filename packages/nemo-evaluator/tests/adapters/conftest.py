"""Fixtures of the adapter tests: a real stub upstream on loopback and fast-retrying pipelines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from adapter_support import fast_retries

from nemo_evaluator.adapters.pipeline import AdapterPipeline


@pytest.fixture
def make_pipeline(tmp_path: Path) -> Iterator[Callable[..., AdapterPipeline]]:
    """Builds pipelines that are closed at the end of the test."""
    built: list[AdapterPipeline] = []

    def make(cfg: Any, *, url: str, endpoint_type: str = "chat", **kw: Any) -> AdapterPipeline:
        kw.setdefault("upstream_config", fast_retries())
        kw.setdefault("output_dir", tmp_path / "out")
        pipeline = AdapterPipeline.from_config(
            cfg, upstream_url=url, endpoint_type=endpoint_type, **kw
        )
        built.append(pipeline)
        return pipeline

    yield make
    for pipeline in built:
        pipeline.close()
