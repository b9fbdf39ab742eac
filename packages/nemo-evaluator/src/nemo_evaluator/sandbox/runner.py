"""Run one untrusted Python program per fresh interpreter, or many from a thread pool.

The parent side: a temporary working directory, optional pids and cpu cgroups, ``python -I`` started in
its own session (so its process group is killable as a whole) with the bootstrap in
``_child.py``, bounded capture of stdout/stderr, a wall-clock deadline, and clean-up of the
group, the cgroup and the directory whatever happens. Nothing here changes process-wide state,
so checks may run from many threads at once.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

from nemo_evaluator.sandbox import cgroup
from nemo_evaluator.sandbox.errors import SandboxError
from nemo_evaluator.sandbox.types import SandboxLimits, SandboxResult, Status

MEMORY_EXIT = 86  # keep in sync with _child.py
SETUP_EXIT = 87
_DEFAULT_LIMITS = SandboxLimits()
_CHILD_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1"}


@lru_cache(maxsize=1)
def _bootstrap_source() -> str:
    return (Path(__file__).with_name("_child.py")).read_text(encoding="utf-8")


class _Capture:
    """Keep the first ``limit`` bytes of a stream and drop the rest (still draining it)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False

    def add(self, data: bytes) -> None:
        room = self.limit - self.size
        if len(data) > room:
            self.truncated = True
            data = data[: max(room, 0)]
        if data:
            self.chunks.append(data)
            self.size += len(data)

    def text(self) -> str:
        out = b"".join(self.chunks).decode("utf-8", errors="replace")
        return out + "\n[... output truncated ...]" if self.truncated else out


def _exited(pid: int) -> bool:
    """Has ``pid`` exited? Leaves it unreaped so its process-group id cannot be reused yet."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


_DRAIN_AFTER_EXIT_S = 0.2  # output a leftover background process may still add


def _pump(proc: subprocess.Popen[bytes], out: _Capture, err: _Capture, deadline: float) -> bool:
    """Drain both pipes until the program exits; False when the deadline passed first.

    Once the program has exited, a background process it left behind may hold the pipes open;
    whatever it writes within ``_DRAIN_AFTER_EXIT_S`` is kept, then the group is killed.
    """
    assert proc.stdout is not None and proc.stderr is not None
    exited_at: float | None = None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        while sel.get_map():
            now = time.monotonic()
            if exited_at is None and now >= deadline:
                return False
            if exited_at is not None and now - exited_at >= _DRAIN_AFTER_EXIT_S:
                break
            for key, _ in sel.select(timeout=min(max(deadline - now, 0.0), 0.05)):
                data = os.read(key.fd, 65536)
                if data:
                    key.data.add(data)
                else:
                    sel.unregister(key.fileobj)
            if exited_at is None and sel.get_map() and _exited(proc.pid):
                exited_at = time.monotonic()
    while not _exited(proc.pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.002)
    return True


def _cgroup_arg(groups: cgroup.CheckCgroups) -> str:
    """``features|dir;dir`` for the child, or ``-`` when there are no cgroups."""
    if not groups.paths:
        return "-"
    return ",".join(groups.features) + "|" + ";".join(str(p) for p in groups.paths)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _classify(returncode: int, killed: bool, limits: SandboxLimits) -> Status:
    if killed:
        return "timeout"
    if returncode == 0:
        return "passed"
    if returncode == MEMORY_EXIT:
        return "memory"
    if returncode < 0:
        sig = -returncode
        if sig == signal.SIGXCPU:
            return "timeout"
        if sig == signal.SIGXFSZ:
            return "failed"
        return "crashed"
    return "failed"


def run_program(
    program: str,
    *,
    limits: SandboxLimits | None = None,
    python: str | None = None,
) -> SandboxResult:
    """Run ``program`` (Python source) in a fresh sandboxed interpreter and report how it ended.

    Raises SandboxError only when the sandbox itself cannot run (never for a failing program).
    """
    limits = limits or _DEFAULT_LIMITS
    executable = python or sys.executable
    if not executable or not os.access(executable, os.X_OK):
        raise SandboxError(f"no Python interpreter at {executable!r}: pass python=<path>")
    workdir = tempfile.mkdtemp(prefix="nemo-evaluator-sandbox-")
    groups = (
        cgroup.create(max_tasks=limits.max_processes + 4, cpus=limits.cpus)
        if limits.isolation != "none"
        else cgroup.CheckCgroups((), ())
    )
    status_r, status_w = os.pipe()
    try:
        Path(workdir, "program.py").write_text(program, encoding="utf-8")
        argv = [
            executable,
            "-I",
            "-B",
            "-c",
            _bootstrap_source(),
            workdir,
            str(status_w),
            limits.isolation,
            _cgroup_arg(groups),
            str(limits.memory_mb),
            str(limits.effective_cpu_time_s),
            str(limits.max_file_mb),
        ]
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=workdir,
                env={**_CHILD_ENV, "HOME": workdir, "TMPDIR": workdir},
                pass_fds=(status_w,),
                start_new_session=True,  # own session and process group: killpg reaches all
            )
        except OSError as exc:
            raise SandboxError(f"cannot start {executable!r}: {exc.strerror}") from exc
        os.close(status_w)
        status_w = -1
        out = _Capture(limits.max_output_bytes)
        err = _Capture(limits.max_output_bytes)
        try:
            finished = _pump(proc, out, err, started + limits.timeout_s)
        finally:
            _kill_group(proc.pid)  # before reaping, so the group id is still ours
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            if proc.stderr is not None:
                proc.stderr.close()
        duration = time.monotonic() - started
        report = _read_status(status_r)
        if proc.returncode == SETUP_EXIT and "error" in report:
            raise SandboxError(
                f"{report['error'][0]}; use SandboxLimits(isolation='auto') to fall back"
            )
        return SandboxResult(
            status=_classify(proc.returncode, not finished, limits),
            returncode=None if not finished else proc.returncode,
            stdout=out.text(),
            stderr=err.text(),
            duration_s=duration,
            stdout_truncated=out.truncated,
            stderr_truncated=err.truncated,
            isolation=tuple(report.get("isolation", ())),
            weaknesses=tuple(report.get("weak", ())),
        )
    finally:
        os.close(status_r)
        if status_w >= 0:
            os.close(status_w)
        cgroup.destroy(groups)
        shutil.rmtree(workdir, ignore_errors=True)


def _read_status(fd: int) -> dict[str, list[str]]:
    """Parse the child's ``key=value`` status lines (empty when setup never got that far)."""
    os.set_blocking(fd, False)
    try:
        raw = os.read(fd, 65536).decode("utf-8", errors="replace")
    except BlockingIOError:
        return {}
    report: dict[str, list[str]] = {}
    for line in raw.splitlines():
        key, _, value = line.partition("=")
        sep = ";" if key == "weak" else ","
        report[key] = [v for v in value.split(sep) if v] if key != "error" else [value]
    return {k: v for k, v in report.items() if v and v != [""]}


def check_many(
    programs: Iterable[str],
    *,
    limits: SandboxLimits | None = None,
    parallelism: int | None = None,
    python: str | None = None,
) -> list[SandboxResult]:
    """Run every program (in order of the results) with up to ``parallelism`` at once."""
    items: Sequence[str] = list(programs)
    workers = parallelism or os.cpu_count() or 1
    if workers < 1:
        raise SandboxError(f"parallelism must be >= 1, got {parallelism}")
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox") as pool:
        return list(pool.map(lambda p: run_program(p, limits=limits, python=python), items))
