"""Limits for one sandboxed check and the result it produces."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from nemo_evaluator.sandbox.errors import SandboxError

Isolation = Literal["auto", "namespaces", "userns", "none"]
Status = Literal["passed", "failed", "timeout", "memory", "crashed"]


@dataclass(frozen=True, kw_only=True)
class SandboxLimits:
    """What one check may use.

    ``isolation``: ``auto`` uses namespaces when the machine allows them and falls back to the
    in-process guard; ``namespaces`` refuses to run without them; ``userns`` forces the
    unprivileged user-namespace path; ``none`` uses only rlimits and the in-process guard.
    """

    timeout_s: float = 3.0
    cpu_time_s: int | None = None  # default: the wall-time limit rounded up
    memory_mb: int = 1024
    max_processes: int = 64  # tasks (processes and threads) in the check's pids cgroup
    cpus: float | None = 1.0  # CPU quota of the check's cpu cgroup (None: no quota)
    max_output_bytes: int = 64 * 1024  # kept per stream; the rest is dropped
    max_file_mb: int = 64
    isolation: Isolation = "auto"

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise SandboxError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.memory_mb < 64:
            raise SandboxError(f"memory_mb must be >= 64 (Python needs it), got {self.memory_mb}")
        if self.max_processes < 2:
            raise SandboxError(f"max_processes must be >= 2, got {self.max_processes}")
        if self.cpus is not None and not self.cpus > 0:
            raise SandboxError(f"cpus must be > 0 or None, got {self.cpus}")
        if self.isolation not in ("auto", "namespaces", "userns", "none"):
            raise SandboxError(
                f"isolation must be auto, namespaces, userns or none, got {self.isolation!r}"
            )

    @property
    def effective_cpu_time_s(self) -> int:
        if self.cpu_time_s is not None:
            return max(1, int(self.cpu_time_s))
        return max(1, math.ceil(self.timeout_s))


@dataclass(frozen=True, kw_only=True)
class SandboxResult:
    """Outcome of one check. ``passed`` is true iff the program exited 0 within its limits."""

    status: Status
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    isolation: tuple[str, ...] = field(default_factory=tuple)  # e.g. ("netns", "readonly-fs")
    weaknesses: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return self.status == "passed"
