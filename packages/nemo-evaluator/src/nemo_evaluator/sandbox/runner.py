"""Run one untrusted Python program per fresh interpreter, or many from a thread pool.

The parent side: optional pids and cpu cgroups (joined by a ``sh`` one-liner before anything
else starts), the bubblewrap command line (or, in the unsafe mode, a temporary working
directory), ``python -I -S`` started in its own session with the bootstrap in ``_child.py``,
bounded capture of stdout/stderr, a wall-clock deadline, the per-check token that only a
finished harness writes back, and clean-up of the group, the cgroups and any directory whatever
happens. Nothing here changes process-wide state, so checks may run from many threads at once.

A ``CandidateCheck`` also gets a tests fd (a memfd: the setup, the entry point and the tests)
that only the harness process reads; see ``_child.py``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
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
from nemo_evaluator.sandbox import bubblewrap, cgroup, identity
from nemo_evaluator.sandbox.capture import Capture, pump
from nemo_evaluator.sandbox.types import CandidateCheck, SandboxLimits, SandboxResult, Status

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
    path: str, fds: tuple[int, ...], limits: SandboxLimits, *, uid: int
) -> list[str]:
    """The interpreter's arguments; the last one names the check in process listings.

    ``fds``: status, token, sentinel and tests (-1 for a whole program); ``uid``: the uid to
    become (0: keep the caller's, or nobody of the check's own user namespace).
    """
    nproc = 0 if limits.isolation == "unsafe" else limits.max_processes
    return [
        "-I", "-S", "-B", "-c", _bootstrap_source(), path, *(str(fd) for fd in fds),
        limits.isolation, str(uid), str(limits.memory_mb),
        str(limits.effective_cpu_time_s), str(limits.max_file_mb), str(nproc),
        f"nemo-evaluator-sandbox-{secrets.token_hex(6)}",
    ]  # fmt: skip


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _frames(*parts: str) -> bytes:
    """What ``_child._receive`` reads: each part as an 8-byte length and its UTF-8 bytes."""
    encoded = [part.encode("utf-8") for part in parts]
    return b"".join(len(e).to_bytes(8, "big") + e for e in encoded)


def _launch(
    program: str, executable: str, fds: tuple[int, ...], limits: SandboxLimits, *, uid: int
) -> _Launch:
    if limits.isolation == "unsafe":
        workdir = tempfile.mkdtemp(prefix="nemo-evaluator-sandbox-")
        path = os.path.join(workdir, "program.py")
        Path(path).write_text(program, encoding="utf-8")
        argv = [executable, *_bootstrap_args(path, fds, limits, uid=0)]
        env = {**_UNSAFE_ENV, "HOME": workdir, "TMPDIR": workdir}
        return _Launch(argv=argv, cwd=workdir, env=env, workdir=workdir)
    bubblewrap.require_bwrap()
    runtime = bubblewrap.runtime(executable)
    program_fd = _memfd("program.py", program.encode("utf-8"))
    argv = bubblewrap.command(
        runtime,
        tmp_bytes=limits.max_file_mb * 1024 * 1024,
        as_root=uid != 0,
        program_fd=program_fd,
        program_path=bubblewrap.PROGRAM,
        bootstrap=_bootstrap_args(bubblewrap.PROGRAM, fds, limits, uid=uid),
    )
    return _Launch(argv=argv, cwd="/", env={}, fds=[program_fd])


def run_program(
    program: str | CandidateCheck,
    *,
    limits: SandboxLimits | None = None,
    python: str | None = None,
) -> SandboxResult:
    """Run ``program`` in a fresh sandboxed interpreter and report how it ended.

    ``program``: Python source run as a whole (a pass: it returned normally), or a
    ``CandidateCheck`` (a pass: its trusted tests, in a process of their own, returned).
    Raises SandboxError only when the sandbox itself cannot run (never for a failing program).
    """
    limits = limits or _DEFAULT_LIMITS
    as_root = limits.isolation == "bubblewrap" and os.geteuid() == 0
    with identity.private_uid() if as_root else contextlib.nullcontext(0) as uid:
        return _run(program, limits=limits, python=python, uid=uid)


def _run(
    program: str | CandidateCheck, *, limits: SandboxLimits, python: str | None, uid: int
) -> SandboxResult:
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
        source, tests_fd = program, -1
        if isinstance(program, CandidateCheck):
            source = program.candidate
            tests_fd = _memfd("tests", _frames(program.setup, program.entry_point, program.tests))
            ours.append(tests_fd)
        fds = (status_w, token_r, sentinel_w, tests_fd)
        launch = _launch(str(source), executable, fds, limits, uid=uid)
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
                pass_fds=(status_w, token_r, sentinel_w, *launch.fds, *_valid(tests_fd)),
                start_new_session=True,  # own session and process group: killpg reaches all
            )
        except OSError as exc:
            raise SandboxError(f"cannot start {argv[0]!r}: {exc.strerror}") from exc
        for fd in (status_w, token_r, sentinel_w, *launch.fds, *_valid(tests_fd)):
            os.close(fd)
            ours.remove(fd)
        out = Capture(limits.max_output_bytes)
        err = Capture(limits.max_output_bytes)
        try:
            in_time = pump(proc, out, err, started + limits.timeout_s)
        finally:
            _kill_group(proc.pid)  # before reaping, so the group id is still ours
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            if proc.stderr is not None:
                proc.stderr.close()
        duration = time.monotonic() - started
        cgroup.destroy(groups)  # whatever is left dies before the sentinel is read
        if uid and not groups.paths:  # the namespace may still be dying: wait for its end
            identity.kill_all(uid)
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


def _valid(fd: int) -> tuple[int, ...]:
    return (fd,) if fd >= 0 else ()


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
        found += ["bubblewrap", "userns" if os.geteuid() != 0 else "hostns-private-uid"]
        found += ["pidns", "netns", "ipcns", "utsns", "mountns", "minimal-root", "private-tmp"]
    return (*found, *report.get("isolation", ()), "sentinel")


def _weaknesses(groups: cgroup.CheckCgroups, limits: SandboxLimits) -> tuple[str, ...]:
    weak = []
    if limits.isolation == "unsafe":
        weak.append("unsafe: no namespaces, the host's files, processes and sockets are reachable")
    if "cgroup-pids" not in groups.features and limits.isolation == "unsafe":
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
    programs: Iterable[str | CandidateCheck],
    *,
    limits: SandboxLimits | None = None,
    parallelism: int | None = None,
    python: str | None = None,
) -> list[SandboxResult]:
    """Run every program (in order of the results) with up to ``parallelism`` at once."""
    items: Sequence[str | CandidateCheck] = list(programs)
    workers = parallelism or os.cpu_count() or 1
    if workers < 1:
        raise SandboxError(f"parallelism must be >= 1, got {parallelism}")
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox") as pool:
        return list(pool.map(lambda p: run_program(p, limits=limits, python=python), items))
