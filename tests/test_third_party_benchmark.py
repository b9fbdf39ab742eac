"""A benchmark from a separately installed distribution: listed, run from the CLI and from YAML.

The distribution is installed the way an installer lays it out (a package plus its
``.dist-info`` with ``entry_points.txt``) into a directory on ``PYTHONPATH``, so discovery goes
through ``importlib.metadata`` exactly as for a wheel installed with pip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from nemo_evaluator.testing import OpenAIStubServer

_MODULE = """
from nemo_evaluator.benchmarks.base import (
    Benchmark, GenerationOutput, GenerationRequest, SampleScore,
)

_DOCS = [("q0", "42"), ("q1", "7"), ("q2", "42")]


class EchoBench(Benchmark):
    name = "echo_bench"
    endpoint_types = ("completions", "chat")
    description = "third-party demo: is the answer the target"

    def load_docs(self):
        docs = [{"doc_id": str(i), "q": q, "target": t} for i, (q, t) in enumerate(_DOCS)]
        return self.limit_docs(docs, self.params.limit_samples)

    def build_requests(self, doc):
        return [GenerationRequest(prompt=doc["q"], messages=({"role": "user", "content": doc["q"]},),
                                  max_tokens=4)]

    def score(self, doc, outputs):
        out = outputs[0]
        text = out.text.strip() if isinstance(out, GenerationOutput) else ""
        return SampleScore(doc_id=doc["doc_id"], metrics={"acc": {"acc": float(text == doc["target"])}},
                           extracted=text, target=doc["target"])
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """``echo-bench 1.0`` installed into its own directory."""
    root = tmp_path / "site"
    (root / "echo_bench").mkdir(parents=True)
    (root / "echo_bench" / "__init__.py").write_text(textwrap.dedent(_MODULE))
    dist = root / "echo_bench-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-bench\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[nemo_evaluator.benchmarks]\necho_bench = echo_bench:EchoBench\n"
    )
    return root


def _env(site: Path, tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        "NV_EVAL_HOME": str(tmp_path / "nv-eval-home"),
        "NEMO_EVALUATOR_QUIET": "1",
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _run(argv: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_without_the_distribution_the_name_is_unknown(tmp_path: Path) -> None:
    proc = _run(
        [
            *("nemo-evaluator", "run", "--model-url", "http://127.0.0.1:9/v1/completions"),
            *("--type", "echo_bench", "--output-dir", str(tmp_path / "out")),
        ],
        env=_env(tmp_path / "empty", tmp_path),
        cwd=tmp_path,
    )
    assert proc.returncode != 0
    assert "unknown benchmark 'echo_bench'" in proc.stderr
    assert "nemo_evaluator.benchmarks" in proc.stderr


def test_listed_and_run_from_the_cli(site: Path, tmp_path: Path) -> None:
    env = _env(site, tmp_path)
    listing = _run(["nemo-evaluator", "ls"], env=env, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    line = next(x for x in listing.stdout.splitlines() if x.startswith("echo_bench "))
    assert "third-party demo" in line and "completions,chat" in line
    out = tmp_path / "cli"
    with OpenAIStubServer(reply=" 42") as up:
        proc = _run(
            [
                *("nemo-evaluator", "run", "--model-url", f"{up.url}/v1/completions"),
                *("--type", "echo_bench", "--output-dir", str(out)),
            ],
            env=env,
            cwd=tmp_path,
        )
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "results.json").read_text())
    acc = result["tasks"]["echo_bench"]["metrics"]["acc"]["scores"]["acc"]["value"]
    assert acc == pytest.approx(2 / 3)  # q1's target is 7, the stub says 42
    assert result["metadata"]["num_samples"] == 3


@pytest.mark.slow
def test_run_from_launcher_yaml(site: Path, tmp_path: Path) -> None:
    env = _env(site, tmp_path)
    with OpenAIStubServer(reply=" 7") as up:
        config = {
            "defaults": ["_self_"],
            "target": {"api_endpoint": {"url": f"{up.url}/v1/completions", "model_id": "m"}},
            "config": {"type": "echo_bench", "output_dir": "results", "params": {}},
            "execution": {"executor": "local", "output_dir": "./runs"},
        }
        (tmp_path / "third_party.yaml").write_text(yaml.safe_dump(config))
        proc = _run(["nv-eval", "run", "--config-name", "third_party"], env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = list((tmp_path / "runs").glob("*/echo_bench/results/results.json"))
    assert len(results) == 1, proc.stdout
    data = json.loads(results[0].read_text())
    assert data["tasks"]["echo_bench"]["metrics"]["acc"]["scores"]["acc"]["value"] == (
        pytest.approx(1 / 3)
    )
