"""``nvidia-eval-schema`` through its console script: a real parser, stdout by default."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nvidia_eval_commons.api.results import RESULTS_SCHEMA_VERSION, EvaluationResult
from nvidia_eval_commons.schema import results_json_schema

SCRIPT = Path(sys.executable).with_name("nvidia-eval-schema")


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("flag", ["--help", "-h", "--version"])
def test_help_and_version_print_and_write_no_file(tmp_path: Path, flag: str) -> None:
    done = _run(flag, cwd=tmp_path)
    assert done.returncode == 0
    assert list(tmp_path.iterdir()) == []
    if flag == "--version":
        assert done.stdout.startswith("nvidia-eval-schema 0.") and "Python 3." in done.stdout
    else:
        assert "--markdown" in done.stdout and "-o FILE" in done.stdout


def test_stdout_by_default_and_dash_is_stdout(tmp_path: Path) -> None:
    for args in ((), ("-",), ("-o", "-")):
        done = _run(*args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["title"] == "nv-eval launcher configuration"
    assert list(tmp_path.iterdir()) == []


def test_output_file_and_markdown(tmp_path: Path) -> None:
    assert _run("--markdown", "-o", "ref.md", cwd=tmp_path).returncode == 0
    text = (tmp_path / "ref.md").read_text()
    assert text.startswith("# Configuration reference") and "## LauncherConfig" in text


def test_unknown_and_abbreviated_flags_are_refused(tmp_path: Path) -> None:
    for flag in ("--mark", "--nope"):
        done = _run(flag, cwd=tmp_path)
        assert done.returncode == 2 and "unrecognized arguments" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_results_schema_versions_results_json(tmp_path: Path) -> None:
    import jsonschema

    done = _run("--results", cwd=tmp_path)
    schema = json.loads(done.stdout)
    assert schema == json.loads(json.dumps(results_json_schema()))
    assert schema["properties"]["schema_version"]["default"] == RESULTS_SCHEMA_VERSION
    data = EvaluationResult().model_dump(mode="json")
    assert data["schema_version"] == RESULTS_SCHEMA_VERSION
    jsonschema.validate(data, schema)
    # a results.json written before the field existed still reads back
    del data["schema_version"]
    assert EvaluationResult.model_validate(data).schema_version == RESULTS_SCHEMA_VERSION
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**data, "taks": {}}, schema)


def test_a_reader_that_closes_the_pipe_ends_it_quietly_with_141() -> None:
    """``nvidia-eval-schema | head -0``: no traceback, the SIGPIPE status, for every CLI's ``main``."""
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("nvidia-eval-schema"))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before the first byte is written
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141, err
    assert err == b""
