"""What one job runs: ``python -m nv_eval.job <job.json>``.

Optionally starts the model server (``deployment``) and waits for its health, points the
target at it, runs ``evaluate`` for one task, stops the server (also on failure or SIGTERM),
and then runs the exporters listed under ``exporters:``. An exporter failure is reported in
the log and in ``state/exporters.json`` but never fails the job or touches its results.
Paths in the job file are relative to the file's directory.
"""

from __future__ import annotations

import json
import signal
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nvidia_eval_commons.api.api_dataclasses import EvaluationConfig, EvaluationTarget
from nvidia_eval_commons.api.launcher import DeploymentConfig, ExporterSpec

from .executors.base import write_marker

JOB_FILE = "job.json"


@dataclass(frozen=True)
class JobFile:
    """What one job runs, written to ``<job_dir>/job.json`` by the launcher and read here."""

    job_id: str
    task: str
    executor: str
    target: dict[str, Any]
    config: dict[str, Any]
    """The evaluation config of this task (``type`` and ``output_dir`` set)."""
    deployment: dict[str, Any] | None = None
    exporters: list[dict[str, Any]] = field(default_factory=list)
    launcher_config: dict[str, Any] = field(default_factory=dict)
    """The run's whole launcher config, secrets masked (what exporters record)."""

    def dumps(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def load(cls, path: Path) -> JobFile:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            job_id=data["job_id"],
            task=data["task"],
            executor=data.get("executor", ""),
            target=data["target"],
            config=data["config"],
            deployment=data.get("deployment"),
            exporters=data.get("exporters") or [],
            launcher_config=data.get("launcher_config") or {},
        )


def _on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def run_job(path: Path) -> int:
    spec = JobFile.load(path)
    job_dir = path.parent.resolve()
    target = EvaluationTarget.model_validate(spec.target)
    config = dict(spec.config)
    out = Path(config["output_dir"])
    config["output_dir"] = str(out if out.is_absolute() else job_dir / out)
    eval_cfg = EvaluationConfig.model_validate(config)
    deployment = DeploymentConfig.model_validate(spec.deployment) if spec.deployment else None
    from nemo_evaluator.core.evaluate import evaluate
    from nvidia_eval_commons.openai_url import retarget

    from .deployment import ModelServer

    server = None
    try:
        if deployment is not None and deployment.type != "none":
            print(
                f"[nv-eval] starting the model server ({deployment.type}/{deployment.backend})",
                flush=True,
            )
            server = ModelServer(deployment, log_path=job_dir / "server.log").start()
            endpoint = target.api_endpoint.model_copy(
                update={
                    "url": retarget(target.api_endpoint.url, host=deployment.host, port=server.port)
                }
            )
            adapter = endpoint.adapter_config
            if adapter is not None and adapter.api_url:
                endpoint = endpoint.model_copy(
                    update={"adapter_config": adapter.model_copy(update={"api_url": None})}
                )
            target = EvaluationTarget(api_endpoint=endpoint)
            print(f"[nv-eval] model server healthy at {server.base_url}", flush=True)
        result = evaluate(target_cfg=target, eval_cfg=eval_cfg)
    except Exception as err:
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        write_marker(job_dir, "error", message)
        print(f"[nv-eval] job failed: {message}", file=sys.stderr, flush=True)
        return 1
    finally:
        if server is not None:
            server.stop()
            print("[nv-eval] model server stopped", flush=True)
    print(f"[nv-eval] {result}", flush=True)
    exporters = [ExporterSpec.model_validate(e) for e in spec.exporters]
    if exporters:
        from .exporters import ExportItem, run_exporters

        item = ExportItem.from_dir(
            job_id=spec.job_id,
            task=eval_cfg.type,
            output_dir=Path(eval_cfg.output_dir),
            config=spec.launcher_config,
            executor=spec.executor,
        )
        outcomes = run_exporters(exporters, [item], invocation_dir=job_dir.parent)
        write_marker(job_dir, "exporters.json", json.dumps([o.as_dict() for o in outcomes]))
        for outcome in outcomes:
            print(f"[nv-eval] export {outcome.line()}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m nv_eval.job <job.json>", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _on_sigterm)
    return run_job(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())
