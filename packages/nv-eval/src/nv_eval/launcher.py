"""Invocations: plan the jobs of a composed config, submit them, refresh and kill them.

Layout on disk (``execution.output_dir`` resolved from the current directory)::

    <output_dir>/<invocation id>/
        config.yaml                 the resolved config (secrets masked)
        <task>/                     one job directory per task
            job.json                what the job runs (nv_eval.job.JobFile; python -m nv_eval.job job.json)
            job.log                 its stdout and stderr
            state/                  markers: started, exit_code, killed, error, exporters.json
            results/                the evaluation's output_dir (a relative config.output_dir)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from nvidia_eval_commons.api.launcher import LauncherConfig
from nvidia_eval_commons.api.plugins import EXECUTORS
from nvidia_eval_commons.env import read_env
from nvidia_eval_commons.errors import MissingExtraError

from .config import ComposedConfig, masked
from .errors import LauncherConfigError, NvEvalError, UnknownExecutorError
from .executors.base import JOB_DIR_TOKEN, Executor, JobSpec
from .job import JOB_FILE, JobFile
from .store import InvocationRecord, JobRecord, Store


def secret_envs(model: LauncherConfig) -> tuple[str, ...]:
    """The variables the jobs read secrets from (Lepton maps them to workspace secrets)."""
    name = model.target.api_endpoint.api_key_env
    return (name,) if name else ()


def _shares_environment(model: LauncherConfig) -> bool:
    """Whether the jobs inherit this process's environment (local, or Slurm without ssh)."""
    ex = model.execution
    return ex.executor == "local" or (
        ex.executor == "slurm" and (ex.slurm is None or ex.slurm.ssh is None)
    )


def check_secrets(composed: ComposedConfig) -> None:
    """A literal key needs an executor that inherits our environment; a reference must be set.

    Raises LauncherConfigError (one line) before anything is submitted.
    """
    model = composed.model
    if composed.secret_env and not _shares_environment(model):
        where = "Lepton" if model.execution.executor == "lepton" else "Slurm over ssh"
        raise LauncherConfigError(
            f"a literal target.api_endpoint.api_key cannot reach a job on {where} without "
            "being written down; store the key in the job's environment (a Lepton workspace "
            "secret, the cluster's profile) and write api_key: ${oc.env:NAME}"
        )
    name = model.target.api_endpoint.api_key_env
    if name and _shares_environment(model) and name not in composed.secret_env:
        read_env(name, field="target.api_endpoint.api_key")


def make_executor(name: str, model: LauncherConfig, *, invocation_id: str = "") -> Executor:
    if name not in EXECUTORS:
        raise UnknownExecutorError(str(EXECUTORS.unknown(name)))
    cls: type[Executor] = EXECUTORS.get(name)
    return cls.from_config(model, invocation_id=invocation_id, secret_envs=secret_envs(model))


def _python(model: LauncherConfig) -> str:
    """This interpreter where the job shares this machine's filesystem, else ``python``."""
    return sys.executable if _shares_environment(model) else "python"


def _runs(composed: ComposedConfig | Sequence[ComposedConfig]) -> list[ComposedConfig]:
    """One config, or the combinations of a ``--multirun`` (one invocation for them all)."""
    return [composed] if isinstance(composed, ComposedConfig) else list(composed)


def plan(
    composed: ComposedConfig | Sequence[ComposedConfig], inv_id: str, inv_dir: Path
) -> list[JobSpec]:
    runs = _runs(composed)
    model = runs[0].model
    pairs = [(run, task) for run in runs for task in run.tasks]
    tasks = [task for _, task in pairs]
    slots = model.execution.parallel_jobs
    jobs = []
    for idx, (run, task) in enumerate(pairs):
        out = Path(run.model.config.output_dir)
        dirname = task if tasks.count(task) == 1 else f"{task}-{idx}"
        job_dir = inv_dir / dirname
        output_dir = str(out / inv_id / dirname) if out.is_absolute() else str(out)
        job_file = JobFile(
            job_id=f"{inv_id}.{idx}",
            task=task,
            executor=model.execution.executor,
            target=run.data["target"],
            config={**run.data["config"], "type": task, "output_dir": output_dir},
            deployment=run.data.get("deployment"),
            exporters=run.data.get("exporters") or [],
            launcher_config=masked(run.data),
        )
        spec = JobSpec(
            job_id=job_file.job_id,
            name=task,
            job_dir=job_dir,
            command=[_python(model), "-m", "nv_eval.job", f"{JOB_DIR_TOKEN}/{JOB_FILE}"],
            slot=idx % slots,
            slots=slots,
            order=idx,
            total_jobs=len(tasks),
            job_file=job_file.dumps(),
            output_dir=output_dir,
            secret_env=run.secret_env,
        )
        jobs.append(spec)
    return jobs


def dry_run(
    composed: ComposedConfig | Sequence[ComposedConfig], *, sweep: Sequence[str] = ()
) -> str:
    """The resolved config(s) and what each job would submit."""
    runs = _runs(composed)
    model = runs[0].model
    inv_dir = Path(model.execution.output_dir).expanduser().resolve() / "<invocation>"
    executor = make_executor(model.execution.executor, model, invocation_id="dryrun")
    parts = []
    for i, run in enumerate(runs):
        title = f"# resolved config {i}: {sweep[i]}" if sweep else "# resolved config"
        parts += [title, yaml.safe_dump(masked(run.data), sort_keys=False).rstrip()]
    lepton = model.execution.executor == "lepton"
    if lepton:
        dep = executor.deployment_spec()  # type: ignore[attr-defined]
        if dep is not None:
            body = dep.model_dump(mode="json", exclude_none=True, by_alias=True)
            parts += ["# Lepton deployment of the model", json.dumps(body, indent=2)]
    for job in plan(runs, "dryrun", inv_dir):
        parts.append(f"# job {job.order}: {job.name} ({model.execution.executor})")
        parts.append(executor.describe(job))
    return "\n".join(parts) + "\n"


def submit(
    composed: ComposedConfig | Sequence[ComposedConfig], store: Store
) -> tuple[InvocationRecord, list[JobRecord]]:
    """Create the invocation, write the job files and submit every job."""
    runs = _runs(composed)
    model = runs[0].model
    for run in runs:
        check_secrets(run)
    root = Path(model.execution.output_dir).expanduser().resolve()
    inv, _records = store.create_invocation(
        executor=model.execution.executor,
        output_dir=str(root),
        config=masked(runs[0].data),
        tasks=[task for run in runs for task in run.tasks],
    )
    inv_dir = root / inv.id
    inv_dir.mkdir(parents=True, exist_ok=True)
    configs = [masked(run.data) for run in runs]
    (inv_dir / "config.yaml").write_text(
        yaml.safe_dump(configs[0] if len(configs) == 1 else configs, sort_keys=False)
    )
    executor = make_executor(model.execution.executor, model, invocation_id=inv.id)
    planned = plan(runs, inv.id, inv_dir)
    for job in planned:
        job.job_dir.mkdir(parents=True, exist_ok=True)
        path = job.job_dir / JOB_FILE
        path.write_text(job.job_file, encoding="utf-8")
        path.chmod(0o600)
        out = Path(job.output_dir)
        store.update_job(
            job.job_id,
            job_dir=str(job.job_dir),
            output_dir=str(out if out.is_absolute() else job.job_dir / out),
        )
    failures = []
    for job in planned:
        try:
            handle = executor.submit(job)
        except (NvEvalError, MissingExtraError) as err:
            store.update_job(job.job_id, state="failed", message=str(err), finished_at=time.time())
            failures.append(err)
            continue
        store.update_job(job.job_id, handle=handle, submitted_at=time.time())
    if failures and len(failures) == len(planned):
        raise failures[0]
    return inv, store.jobs(inv.id)


def refresh(store: Store, inv: InvocationRecord) -> list[JobRecord]:
    """Ask the executor about every job that has not ended and store what it says."""
    model = LauncherConfig.model_validate(inv.config) if inv.config else None
    executor = make_executor(inv.executor, model, invocation_id=inv.id) if model else None
    for job in store.jobs(inv.id):
        if job.terminal or executor is None or not job.handle:
            continue
        st = executor.status(Path(job.job_dir), job.handle)
        fields: dict[str, Any] = {"state": st.state, "message": st.message}
        if st.started_at is not None:
            fields["started_at"] = st.started_at
        if st.state in ("success", "failed", "killed"):
            fields["finished_at"] = st.finished_at or time.time()
            fields["exit_code"] = st.exit_code
        store.update_job(job.id, **fields)
    return store.jobs(inv.id)


def kill(store: Store, inv: InvocationRecord, job: JobRecord | None) -> list[JobRecord]:
    model = LauncherConfig.model_validate(inv.config)
    executor = make_executor(inv.executor, model, invocation_id=inv.id)
    targets = [job] if job is not None else store.jobs(inv.id)
    for j in refresh(store, inv):
        if j.id not in {t.id for t in targets} or j.terminal:
            continue
        if j.handle:
            executor.kill(Path(j.job_dir), j.handle)
        store.update_job(
            j.id, state="killed", finished_at=time.time(), message="killed by nv-eval kill"
        )
    return store.jobs(inv.id)


def progress(job: JobRecord) -> tuple[int, int | None]:
    """(samples done, samples planned if known) from the evaluation's journal."""
    from nemo_evaluator.core.journal import JOURNAL_NAME, read_progress

    return read_progress(Path(job.output_dir) / JOURNAL_NAME)


def logs(inv: InvocationRecord, job: JobRecord) -> str:
    model = LauncherConfig.model_validate(inv.config)
    executor = make_executor(inv.executor, model, invocation_id=inv.id)
    return executor.logs(Path(job.job_dir), job.handle)


__all__ = [
    "check_secrets",
    "dry_run",
    "kill",
    "logs",
    "make_executor",
    "plan",
    "progress",
    "refresh",
    "submit",
]
