"""SlurmExecutor: one sbatch script per job, on this machine or over ssh on a login node.

The script comes from ``execution.slurm`` (nodes, gpus_per_node, time_limit, partition,
job_name, account, qos, extra ``sbatch_flags``, setup commands, env). ``parallel_jobs`` is
enforced by Slurm itself: jobs in the same slot share a job name and ``--dependency=singleton``
runs them one after another. State comes from ``squeue``, then ``sacct``, then
``scontrol show job``, then the job's own markers; ``kill`` is ``scancel``. A refusal by
Slurm raises SchedulerError carrying Slurm's own message.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path, PurePosixPath
from typing import Any

from nvidia_eval_commons.api.launcher import LauncherConfig, SlurmConfig, SshConfig

from ..errors import SchedulerError
from .base import (
    JOB_DIR_TOKEN,
    LOG_NAME,
    STATE_DIR,
    Executor,
    JobSpec,
    JobStatus,
    marker_time,
    status_from_markers,
    tail,
    write_marker,
)

_TIMEOUT_S = 60.0
_PENDING = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "RESV_DEL_HOLD", "SUSPENDED"}
_RUNNING = {"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "RESIZING"}
_FAILED = {
    "FAILED",
    "TIMEOUT",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
    "REVOKED",
    "SPECIAL_EXIT",
}


def _state(slurm_state: str) -> str | None:
    word = slurm_state.strip().split()[0].rstrip("+") if slurm_state.strip() else ""
    if word in _PENDING:
        return "pending"
    if word in _RUNNING:
        return "running"
    if word == "COMPLETED":
        return "success"
    if word.startswith("CANCELLED"):
        return "killed"
    if word in _FAILED:
        return "failed"
    return None


class Shell:
    """Runs scheduler commands here or, with ``ssh``, on a login node."""

    def __init__(self, ssh: SshConfig | None = None) -> None:
        self.ssh = ssh

    def argv(self, argv: list[str]) -> list[str]:
        if self.ssh is None:
            return argv
        dest = f"{self.ssh.user}@{self.ssh.host}" if self.ssh.user else self.ssh.host
        opts = ["ssh", "-o", "BatchMode=yes", "-p", str(self.ssh.port)]
        if self.ssh.identity_file:
            opts += ["-i", self.ssh.identity_file]
        return [*opts, dest, shlex.join(argv)]

    def run(
        self,
        argv: list[str],
        *,
        stdin: str | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **extra_env} if extra_env else None
        try:
            return subprocess.run(
                self.argv(argv),
                input=stdin,
                env=env,
                capture_output=True,
                text=True,
                timeout=_TIMEOUT_S,
                check=False,
            )
        except FileNotFoundError as err:
            where = f" on {self.ssh.host}" if self.ssh else ""
            raise SchedulerError(
                f"{argv[0]} not found{where}: is Slurm installed and on PATH? ({err.filename})"
            ) from None
        except subprocess.TimeoutExpired:
            raise SchedulerError(f"{argv[0]} did not answer in {_TIMEOUT_S:.0f}s") from None

    def write(self, path: str, text: str) -> None:
        if self.ssh is None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text, encoding="utf-8")
            return
        parent = str(PurePosixPath(path).parent)
        cmd = f"mkdir -p {shlex.quote(parent)} && cat > {shlex.quote(path)}"
        res = self.run(["sh", "-c", cmd], stdin=text)
        if res.returncode != 0:
            raise SchedulerError(f"cannot write {path} on {self.ssh.host}: {res.stderr.strip()}")


class SlurmExecutor(Executor):
    """sbatch / squeue / sacct / scontrol / scancel."""

    name = "slurm"

    def __init__(self, config: SlurmConfig | None = None, *, invocation_id: str = "") -> None:
        self.config = config or SlurmConfig()
        self.invocation_id = invocation_id
        self.shell = Shell(self.config.ssh)

    @classmethod
    def from_config(
        cls, config: LauncherConfig, *, invocation_id: str, secret_envs: tuple[str, ...] = ()
    ) -> SlurmExecutor:
        return cls(config.execution.slurm, invocation_id=invocation_id)

    # -- paths ---------------------------------------------------------------------------
    def remote_dir(self, job_dir: Path) -> str:
        """The job directory as the cluster sees it (``ssh.remote_dir`` rebases it)."""
        ssh = self.config.ssh
        if ssh is None or not ssh.remote_dir:
            return str(job_dir)
        return str(PurePosixPath(ssh.remote_dir) / job_dir.parent.name / job_dir.name)

    def slot_name(self, spec: JobSpec) -> str:
        base = self.config.job_name
        if spec.slots >= spec.total_jobs:
            return f"{base}-{spec.job_id}"
        return f"{base}-{self.invocation_id or spec.job_id.split('.')[0]}-s{spec.slot}"

    # -- the script ----------------------------------------------------------------------
    def script(self, spec: JobSpec) -> str:
        cfg = self.config
        rdir = self.remote_dir(spec.job_dir)
        q = shlex.quote
        lines = ["#!/bin/bash", f"#SBATCH --job-name={self.slot_name(spec)}"]
        lines += [
            f"#SBATCH --nodes={cfg.nodes}",
            f"#SBATCH --ntasks-per-node={cfg.ntasks_per_node}",
        ]
        if cfg.gpus_per_node:
            lines.append(f"#SBATCH --gpus-per-node={cfg.gpus_per_node}")
        if cfg.cpus_per_task:
            lines.append(f"#SBATCH --cpus-per-task={cfg.cpus_per_task}")
        if cfg.mem:
            lines.append(f"#SBATCH --mem={cfg.mem}")
        lines.append(f"#SBATCH --time={cfg.time_limit}")
        for flag, value in (
            ("partition", cfg.partition),
            ("account", cfg.account),
            ("qos", cfg.qos),
        ):
            if value:
                lines.append(f"#SBATCH --{flag}={value}")
        lines += [f"#SBATCH --output={rdir}/{LOG_NAME}", "#SBATCH --open-mode=append"]
        if spec.slots < spec.total_jobs:
            lines.append("#SBATCH --dependency=singleton")
        lines += [f"#SBATCH {flag}" for flag in cfg.sbatch_flags]
        lines += ["", f"mkdir -p {q(rdir)}/{STATE_DIR}", f"cd {q(rdir)}"]
        for key, value in {**cfg.env, **spec.env}.items():
            lines.append(f"export {key}={q(value)}")
        lines += list(cfg.setup_commands)
        command = shlex.join(spec.command).replace(JOB_DIR_TOKEN, rdir)
        lines += [
            f"date +%s > {STATE_DIR}/started",
            command,
            "rc=$?",
            f"echo $rc > {STATE_DIR}/.exit_code.tmp && mv {STATE_DIR}/.exit_code.tmp {STATE_DIR}/exit_code",
            "exit $rc",
            "",
        ]
        return "\n".join(lines)

    def describe(self, spec: JobSpec) -> str:
        where = f" on {self.config.ssh.host}" if self.config.ssh else ""
        return f"sbatch{where} {self.remote_dir(spec.job_dir)}/job.sbatch:\n{self.script(spec)}"

    # -- the interface -------------------------------------------------------------------
    def submit(self, spec: JobSpec) -> dict[str, Any]:
        spec.job_dir.mkdir(parents=True, exist_ok=True)
        rdir = self.remote_dir(spec.job_dir)
        script_path = f"{rdir}/job.sbatch"
        text = self.script(spec)
        (spec.job_dir / "job.sbatch").write_text(text, encoding="utf-8")
        if self.config.ssh is not None:
            for local in spec.job_dir.iterdir():
                if local.is_file():
                    self.shell.write(f"{rdir}/{local.name}", local.read_text(encoding="utf-8"))
        if spec.secret_env and self.config.ssh is not None:
            raise SchedulerError(
                f"job {spec.job_id}: a literal API key cannot be sent over ssh; "
                "write api_key: ${oc.env:NAME} with NAME set on the cluster"
            )
        # sbatch exports its own environment to the job (--export=ALL, Slurm's default):
        # the secret reaches the job that way and is never written into the script
        res = self.shell.run(
            ["sbatch", "--parsable", script_path], extra_env=spec.secret_env or None
        )
        if res.returncode != 0:
            message = (res.stderr or res.stdout).strip().splitlines()
            raise SchedulerError(
                f"sbatch refused job {spec.job_id}: {message[-1] if message else 'no message'}",
                scheduler_message=(res.stderr or res.stdout).strip(),
            )
        slurm_id = res.stdout.strip().split(";")[0]
        if not re.fullmatch(r"\d+(_\d+)?", slurm_id):
            raise SchedulerError(f"sbatch answered {res.stdout.strip()!r}, not a job id")
        return {"slurm_job_id": slurm_id, "remote_dir": rdir}

    def _query(self, slurm_id: str) -> tuple[str | None, int | None, str]:
        """(state, exit code, Slurm's state word) from squeue, then sacct, then scontrol."""
        res = self.shell.run(["squeue", "-h", "-j", slurm_id, "-o", "%T"])
        word = res.stdout.strip() if res.returncode == 0 else ""
        if word:
            return _state(word), None, word
        res = self.shell.run(["sacct", "-n", "-P", "-X", "-j", slurm_id, "-o", "State,ExitCode"])
        if res.returncode == 0 and res.stdout.strip():
            state_word, _, exit_field = res.stdout.strip().splitlines()[0].partition("|")
            return _state(state_word), _exit(exit_field), state_word
        res = self.shell.run(["scontrol", "show", "job", "-o", slurm_id])
        if res.returncode == 0:
            found = re.search(r"JobState=(\S+)", res.stdout)
            code = re.search(r"\bExitCode=(\S+)", res.stdout)
            if found:
                return _state(found.group(1)), _exit(code.group(1) if code else ""), found.group(1)
        return None, None, ""

    def status(self, job_dir: Path, handle: dict[str, Any]) -> JobStatus:
        slurm_id = str(handle.get("slurm_job_id", ""))
        state, code, word = self._query(slurm_id) if slurm_id else (None, None, "")
        started = marker_time(job_dir, "started")
        final = status_from_markers(job_dir)
        if state in ("pending", "running"):
            return JobStatus(state, started_at=started, message=f"slurm {slurm_id}: {word}")
        if state is None:
            if final is not None:
                return final
            return JobStatus(
                "failed", None, started, time.time(), f"slurm {slurm_id}: unknown to Slurm"
            )
        finished = final.finished_at if final is not None else time.time()
        if final is not None and code is None:
            code = final.exit_code
        message = f"slurm {slurm_id}: {word}"
        if state == "failed" and final is not None and final.message:
            message += f" ({final.message})"
        return JobStatus(state, code, started, finished, message)

    def kill(self, job_dir: Path, handle: dict[str, Any]) -> None:
        write_marker(job_dir, "killed", f"{time.time():.3f}")
        slurm_id = str(handle.get("slurm_job_id", ""))
        res = self.shell.run(["scancel", slurm_id])
        if res.returncode != 0:
            raise SchedulerError(
                f"scancel {slurm_id} failed: {res.stderr.strip()}",
                scheduler_message=res.stderr.strip(),
            )

    def logs(self, job_dir: Path, handle: dict[str, Any]) -> str:
        if self.config.ssh is None:
            return tail(Path(job_dir) / LOG_NAME)
        res = self.shell.run(["tail", "-c", "200000", f"{handle.get('remote_dir')}/{LOG_NAME}"])
        return res.stdout


def _exit(field: str) -> int | None:
    head = field.strip().split(":")[0]
    return int(head) if head.isdigit() else None


__all__ = ["Shell", "SlurmExecutor"]
