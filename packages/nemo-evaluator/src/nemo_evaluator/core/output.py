"""Files of the output directory: results.yml/.json, samples.jsonl and the run config."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from nvidia_eval_commons.api.results import EvaluationResult

RESULTS_YML = "results.yml"
RESULTS_JSON = "results.json"
SAMPLES_JSONL = "samples.jsonl"
RUN_CONFIG = "run_config.json"


def _atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a results file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_results(result: EvaluationResult, output_dir: Path) -> None:
    data = result.model_dump(mode="json")
    _atomic_write(output_dir / RESULTS_JSON, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    _atomic_write(
        output_dir / RESULTS_YML, yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    )


def write_samples(samples: list[dict[str, Any]], output_dir: Path) -> None:
    # ASCII escapes: CPython's C encoder writes them much faster than raw UTF-8 (the file
    # holds every prompt; this is a large share of a cached re-run), and readers see the same
    # values either way
    lines = "".join(json.dumps(s) + "\n" for s in samples)
    _atomic_write(output_dir / SAMPLES_JSONL, lines)


def write_run_config(config: dict[str, Any], output_dir: Path) -> None:
    """What ``nemo-evaluator run --resume DIR`` needs (never the API key itself)."""
    _atomic_write(output_dir / RUN_CONFIG, json.dumps(config, indent=2) + "\n")


def read_run_config(output_dir: Path) -> dict[str, Any]:
    path = output_dir / RUN_CONFIG
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; is {output_dir} the output dir of a run?")
    config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return config
