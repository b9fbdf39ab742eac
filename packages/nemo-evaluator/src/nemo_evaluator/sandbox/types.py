"""Limits for one sandboxed check and the result it produces."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from nemo_evaluator.errors import ConfigError

Isolation = Literal["bubblewrap", "unsafe"]
Status = Literal["passed", "failed", "incomplete", "timeout", "memory", "crashed"]
ISOLATIONS = ("bubblewrap", "unsafe")


@dataclass(frozen=True, kw_only=True)
class SandboxLimits:
    """What one check may use.

    ``isolation``: ``bubblewrap`` (the default) runs the program in a bubblewrap sandbox and
    raises SandboxError where one cannot be built; ``unsafe`` runs it with rlimits and the
    in-process guard only, on purpose (it can read the host's files and reach its sockets).
    """

    timeout_s: float = 3.0
    cpu_time_s: int | None = None  # default: the wall-time limit rounded up
    memory_mb: int = 1024
    max_processes: int = 64  # tasks (processes and threads) in the check's pids cgroup
    cpus: float | None = 1.0  # CPU quota of the check's cpu cgroup (None: no quota)
    max_output_bytes: int = 64 * 1024  # kept per stream; the rest is dropped
    max_file_mb: int = 64  # also the size of the sandbox's private /tmp
    isolation: Isolation = "bubblewrap"

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ConfigError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.memory_mb < 64:
            raise ConfigError(f"memory_mb must be >= 64 (Python needs it), got {self.memory_mb}")
        if self.max_processes < 2:
            raise ConfigError(f"max_processes must be >= 2, got {self.max_processes}")
        if self.cpus is not None and not self.cpus > 0:
            raise ConfigError(f"cpus must be > 0 or None, got {self.cpus}")
        if self.isolation not in ISOLATIONS:
            raise ConfigError(f"isolation must be bubblewrap or unsafe, got {self.isolation!r}")

    @property
    def effective_cpu_time_s(self) -> int:
        if self.cpu_time_s is not None:
            return max(1, int(self.cpu_time_s))
        return max(1, math.ceil(self.timeout_s))


@dataclass(frozen=True, kw_only=True)
class CandidateCheck:
    """Model-written code and the trusted tests that call it, run in two processes.

    ``candidate`` (untrusted; HumanEval: prompt + completion) runs in one process and defines
    ``entry_point``. ``setup`` (trusted; HumanEval: the prompt, whose helpers some tests use)
    and then ``tests`` (trusted; HumanEval: the test code and ``check(<entry point>)``) run in
    the harness, another process the candidate cannot read or write, with ``entry_point``
    bound to a proxy: each call goes to the candidate's process, and only built-in data
    (numbers, strings, bytes, lists, tuples, dicts, sets, None) comes back. The check passes
    only when ``tests`` returned; see docs/sandbox.md.
    """

    candidate: str
    entry_point: str
    tests: str
    setup: str = ""

    def __post_init__(self) -> None:
        if not self.entry_point.isidentifier():
            raise ConfigError(f"entry_point must be a Python name, got {self.entry_point!r}")


@dataclass(frozen=True, kw_only=True)
class SandboxResult:
    """Outcome of one check.

    ``passed`` is true iff the program ran to its end within its limits: it exited 0 *and* the
    harness wrote back this check's token. ``incomplete``: it exited 0 without that (an early
    ``sys.exit(0)``/``os._exit(0)``).
    """

    status: Status
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    isolation: tuple[str, ...] = field(default_factory=tuple)  # e.g. ("bubblewrap", "netns")
    weaknesses: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return self.status == "passed"
