"""Run one untrusted Python program per fresh interpreter, or many from a thread pool.

The parent side: optional pids and cpu cgroups (joined by a ``sh`` one-liner before anything
else starts), the bubblewrap command line (or, in the unsafe mode, a temporary working
directory), ``python -I -S`` started in its own session with the bootstrap in ``_child.py``,
bounded capture of stdout/stderr, a wall-clock deadline, the per-check token that only a
finished harness writes back, and clean-up of the group, the cgroups and any directory whatever
happens. Nothing here changes process-wide state, so checks may run from many threads at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from nemo_evaluator.errors import SandboxError
from nemo_evaluator.sandbox import bubblewrap, cgroup
from nemo_evaluator.sandbox.types import SandboxLimits, SandboxResult, Status

MEMORY_EXIT = 86  # keep in sync with _child.py
SETUP_EXIT = 87
BWRAP_SIGNAL_BASE = 128  # bwrap's PID 1 reports "died of signal N" as 128 + N
_DEFAULT_LIMITS = SandboxLimits()
_log = logging.getLogger(__name__)
_UNSAFE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1"}
# Join every cgroup named before "--", then become the command after it.
_JOIN_CGROUPS = (
    'for f; do shift; [ "$f" = -- ] && break; echo $$ > "$f" || exit 87; done; exec "$@"'
)


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


def _classify(returncode: int, *, killed: bool, finished: bool, unsafe: bool) -> Status:
    """How a check ended; ``finished``: the harness wrote back this check's token."""
    if killed:
        return "timeout"
    if returncode == 0:
        return "passed" if finished else "incomplete"
    if returncode == MEMORY_EXIT:
        return "memory"
    sig = 0
    if returncode < 0:
        sig = -returncode
    elif not unsafe and BWRAP_SIGNAL_BASE < returncode < BWRAP_SIGNAL_BASE + 65:
        sig = returncode - BWRAP_SIGNAL_BASE
    if sig == signal.SIGXCPU:
        return "timeout"
    if sig and sig != signal.SIGXFSZ:
        return "crashed"
    return "failed"


@dataclass
class _Launch:
    """One check's command line and the files it needs while it runs."""

    argv: list[str]
    cwd: str
    env: dict[str, str]
    workdir: str | None = None  # the unsafe mode's temporary directory
    fds: list[int] = field(default_factory=list)  # ours to close once the check started


def _bootstrap_args(
    path: str, fds: tuple[int, int, int], limits: SandboxLimits, *, drop: bool
) -> list[str]:
    """The interpreter's arguments; the last one names the check in process listings."""
    nproc = 0 if drop or limits.isolation == "unsafe" else limits.max_processes
    return [
        "-I", "-S", "-B", "-c", _bootstrap_source(), path, *(str(fd) for fd in fds),
        limits.isolation, "1" if drop else "0", str(limits.memory_mb),
        str(limits.effective_cpu_time_s), str(limits.max_file_mb), str(nproc),
        f"nemo-evaluator-sandbox-{secrets.token_hex(6)}",
    ]  # fmt: skip


def _launch(
    program: str, executable: str, fds: tuple[int, int, int], limits: SandboxLimits
) -> _Launch:
    if limits.isolation == "unsafe":
        workdir = tempfile.mkdtemp(prefix="nemo-evaluator-sandbox-")
        path = os.path.join(workdir, "program.py")
        Path(path).write_text(program, encoding="utf-8")
        argv = [executable, *_bootstrap_args(path, fds, limits, drop=False)]
        env = {**_UNSAFE_ENV, "HOME": workdir, "TMPDIR": workdir}
        return _Launch(argv=argv, cwd=workdir, env=env, workdir=workdir)
    bubblewrap.require_bwrap()
    runtime = bubblewrap.runtime(executable)
    program_fd = os.memfd_create("program.py")
    os.write(program_fd, program.encode("utf-8"))
    os.lseek(program_fd, 0, os.SEEK_SET)
    as_root = os.geteuid() == 0
    argv = bubblewrap.command(
        runtime,
        tmp_bytes=limits.max_file_mb * 1024 * 1024,
        as_root=as_root,
        program_fd=program_fd,
        program_path=bubblewrap.PROGRAM,
        bootstrap=_bootstrap_args(bubblewrap.PROGRAM, fds, limits, drop=as_root),
    )
    return _Launch(argv=argv, cwd="/", env={}, fds=[program_fd])


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
    token = secrets.token_hex(16).encode()
    pipes = [os.pipe() for _ in range(3)]  # status, token, sentinel
    (status_r, status_w), (token_r, token_w), (sentinel_r, sentinel_w) = pipes
    os.write(token_w, token)
    os.close(token_w)
    ours = [status_r, status_w, token_r, sentinel_r, sentinel_w]
    launch: _Launch | None = None
    groups = cgroup.CheckCgroups((), ())
    try:
        launch = _launch(program, executable, (status_w, token_r, sentinel_w), limits)
        ours += launch.fds
        groups = cgroup.create(max_tasks=limits.max_processes + 4, cpus=limits.cpus)
        argv = launch.argv
        if groups.paths:
            procs = [str(path / "cgroup.procs") for path in groups.paths]
            argv = ["/bin/sh", "-c", _JOIN_CGROUPS, "sh", *procs, "--", *argv]
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=launch.cwd,
                env=launch.env,
                pass_fds=(status_w, token_r, sentinel_w, *launch.fds),
                start_new_session=True,  # own session and process group: killpg reaches all
            )
        except OSError as exc:
            raise SandboxError(f"cannot start {argv[0]!r}: {exc.strerror}") from exc
        for fd in (status_w, token_r, sentinel_w, *launch.fds):
            os.close(fd)
            ours.remove(fd)
        out = _Capture(limits.max_output_bytes)
        err = _Capture(limits.max_output_bytes)
        try:
            in_time = _pump(proc, out, err, started + limits.timeout_s)
        finally:
            _kill_group(proc.pid)  # before reaping, so the group id is still ours
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            if proc.stderr is not None:
                proc.stderr.close()
        duration = time.monotonic() - started
        cgroup.destroy(groups)  # whatever is left dies before the sentinel is read
        report = _read_status(status_r)
        if in_time:
            _refuse_if_not_started(proc.returncode, report, err.text(), limits)
        finished = in_time and _read_all(sentinel_r) == token
        return SandboxResult(
            status=_classify(
                proc.returncode,
                killed=not in_time,
                finished=finished,
                unsafe=limits.isolation == "unsafe",
            ),
            returncode=proc.returncode if in_time else None,
            stdout=out.text(),
            stderr=err.text(),
            duration_s=duration,
            stdout_truncated=out.truncated,
            stderr_truncated=err.truncated,
            isolation=_isolation(report, groups, limits),
            weaknesses=_weaknesses(groups, limits),
        )
    finally:
        for fd in ours:
            os.close(fd)
        cgroup.destroy(groups)
        if launch is not None and launch.workdir is not None:
            shutil.rmtree(launch.workdir, ignore_errors=True)


def _refuse_if_not_started(
    returncode: int, report: dict[str, list[str]], stderr: str, limits: SandboxLimits
) -> None:
    """Raise SandboxError when the sandbox never got as far as running the program."""
    if returncode == SETUP_EXIT and "error" in report:
        raise SandboxError(f"{report['error'][0]}; or use {bubblewrap.UNSAFE_SWITCH}")
    if report or limits.isolation == "unsafe":
        return
    cause = next((ln for ln in stderr.splitlines() if ln.startswith("bwrap:")), stderr.strip())
    raise SandboxError(bubblewrap.refusal(cause or f"exit status {returncode}"))


def _read_all(fd: int) -> bytes:
    """What the check wrote to ``fd`` (its writers are gone: it never blocks for long)."""
    os.set_blocking(fd, False)
    chunks = []
    with contextlib.suppress(BlockingIOError):
        while data := os.read(fd, 4096):
            chunks.append(data)
            if sum(map(len, chunks)) > 4096:
                break
    return b"".join(chunks)


def _isolation(
    report: dict[str, list[str]], groups: cgroup.CheckCgroups, limits: SandboxLimits
) -> tuple[str, ...]:
    found = list(groups.features)
    if limits.isolation == "bubblewrap":
        found += ["bubblewrap", "userns" if os.geteuid() != 0 else "hostns-nobody"]
        found += ["pidns", "netns", "ipcns", "utsns", "mountns", "minimal-root", "private-tmp"]
    return (*found, *report.get("isolation", ()), "sentinel")


def _weaknesses(groups: cgroup.CheckCgroups, limits: SandboxLimits) -> tuple[str, ...]:
    weak = []
    if limits.isolation == "unsafe":
        weak.append("unsafe: no namespaces, the host's files, processes and sockets are reachable")
    if "cgroup-pids" not in groups.features and (limits.isolation == "unsafe" or os.geteuid() == 0):
        weak.append("no pids cgroup: the process count is not capped")
    return tuple(weak)


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
        report[key] = [v for v in value.split(",") if v] if key != "error" else [value]
    return {k: v for k, v in report.items() if v and v != [""]}


_available: set[tuple[str, str]] = set()


def ensure_available(limits: SandboxLimits | None = None, *, python: str | None = None) -> None:
    """Raise SandboxError now when this machine cannot run checks with ``limits``.

    One trivial check, the first time per interpreter and mode; a caller runs this before
    spending anything on a run whose completions could not be checked. What the sandbox cannot
    enforce here (the unsafe mode, no pids cgroup) is logged as a warning.
    """
    limits = limits or _DEFAULT_LIMITS
    key = (python or sys.executable, limits.isolation)
    if key in _available:
        return
    result = run_program("pass", limits=SandboxLimits(isolation=limits.isolation), python=python)
    if not result.passed:
        raise SandboxError(
            f"the code sandbox does not run a trivial program here (status {result.status}: "
            f"{result.stderr.strip()[-200:]}); or use {bubblewrap.UNSAFE_SWITCH}"
        )
    for weakness in result.weaknesses:
        _log.warning("code sandbox: %s", weakness)
    _available.add(key)


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
