"""The generated configuration reference and JSON Schema in docs/ match the models."""

from __future__ import annotations

import json
from pathlib import Path

from nvidia_eval_commons.schema import launcher_json_schema, markdown_reference

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_configuration_reference_is_up_to_date() -> None:
    on_disk = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert on_disk == markdown_reference() + "\n", (
        "docs/configuration.md is stale: run `uv run nvidia-eval-schema --markdown "
        "docs/configuration.md`"
    )


def test_json_schema_is_up_to_date() -> None:
    on_disk = json.loads((DOCS / "launcher.schema.json").read_text(encoding="utf-8"))
    assert on_disk == launcher_json_schema(), (
        "docs/launcher.schema.json is stale: run `uv run nvidia-eval-schema docs/launcher.schema.json`"
    )


def test_results_json_schema_is_up_to_date() -> None:
    from nvidia_eval_commons.schema import results_json_schema

    on_disk = json.loads((DOCS / "results.schema.json").read_text(encoding="utf-8"))
    assert on_disk == results_json_schema(), (
        "docs/results.schema.json is stale: run "
        "`uv run nvidia-eval-schema --results -o docs/results.schema.json`"
    )
