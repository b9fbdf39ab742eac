"""The bubblewrap (``bwrap``) command line of one check: a minimal root around the interpreter.

The sandbox's root is an empty tmpfs that holds, read-only, only the interpreter, its standard
library (``site-packages`` hidden under an empty read-only tmpfs) and the shared libraries they
link against (found once with ``ldd``); a fresh ``/proc`` of the check's own PID namespace; a
minimal ``/dev``; and a private, size-capped tmpfs at ``/tmp`` that is its working directory.
The check gets new user (unprivileged callers), PID, network, IPC, UTS and cgroup namespaces,
no capabilities, ``no_new_privs``, its own session, and dies with its parent.

Run as root, bwrap itself keeps the host's user namespace (so it can reach an interpreter under
``/root``) and the bootstrap gives up root for a uid of the check's own (``identity.private_uid``) before
any program code runs, so ``RLIMIT_NPROC`` counts that check's processes only; run as an
ordinary user, bwrap maps the caller's uid to ``nobody`` in a new user namespace (where
``RLIMIT_NPROC`` is counted per namespace). See docs/sandbox.md for why bubblewrap and what
each option stops.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from nemo_evaluator.errors import SandboxError

SANDBOX_UID = 65534  # nobody, inside a check's own user namespace
SANDBOX_GID = 65534
TMP = "/tmp"
PROGRAM = "/program.py"
UNSAFE_SWITCH = "SandboxLimits(isolation='unsafe') (humaneval: params.extra.sandbox=unsafe)"
_SKIPPED_EXTENSIONS = ("_tkinter",)  # blocked in the sandbox; it would pull in X11
_LDD_PATH = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)")


@dataclass(frozen=True)
class Runtime:
    """What of the host the sandbox sees: the interpreter and the files it needs to start."""

    executable: str  # the real (base) interpreter, not a virtual environment's link
    files: tuple[str, ...]  # read-only binds, at the same paths
    hidden: tuple[str, ...]  # directories inside those binds covered by an empty tmpfs


def require_bwrap() -> str:
    """The ``bwrap`` on PATH, or SandboxError saying how to install it."""
    found = shutil.which("bwrap")
    if found is None:
        raise SandboxError(
            "bubblewrap is not installed, so model-written code cannot be isolated: "
            f"apt-get install bubblewrap (or dnf install bubblewrap), or use {UNSAFE_SWITCH} "
            "to run it without isolation on purpose"
        )
    return found


def refusal(cause: str) -> str:
    """The one-line error for a machine where bubblewrap cannot build the sandbox."""
    hint = "run as root, or allow unprivileged user namespaces"
    if "namespace" in cause or "uid map" in cause or "Operation not permitted" in cause:
        hint = (
            "the kernel or container refuses new namespaces: allow unprivileged user namespaces "
            "(sysctl kernel.unprivileged_userns_clone=1, kernel.apparmor_restrict_unprivileged_"
            "userns=0) or run as root outside a restricted container"
        )
    return (
        f"the code sandbox cannot start ({cause.strip()}): {hint}; "
        f"or use {UNSAFE_SWITCH} to run model code without isolation on purpose"
    )


def _base_interpreter(python: str) -> str:
    if python == sys.executable:
        python = getattr(sys, "_base_executable", python) or python
    return os.path.realpath(python)


def _query(executable: str) -> dict[str, str]:
    """The stdlib, extension-module and site-packages directories of the base interpreter."""
    code = (
        "import sysconfig; p = sysconfig.get_paths()\n"
        "print(p['stdlib']); print(p['platstdlib']); print(p['purelib']); print(p['platlib'])\n"
        "print(sysconfig.get_config_var('DESTSHARED') or '')\n"
    )
    try:
        done = subprocess.run(
            [executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"cannot start the interpreter {executable}: {exc}") from exc
    if done.returncode != 0:
        raise SandboxError(f"cannot inspect the interpreter {executable}: {done.stderr.strip()}")
    keys = ("stdlib", "platstdlib", "purelib", "platlib", "dynload")
    return dict(zip(keys, done.stdout.splitlines(), strict=False))


def _shared_libraries(binaries: list[str]) -> set[str]:
    """Every shared library ``binaries`` load, as ``ldd`` resolves them (plus the loader)."""
    ldd = shutil.which("ldd") or shutil.which("ldd", path="/usr/bin:/bin")
    if ldd is None:
        raise SandboxError(
            "ldd is not installed, so the sandbox cannot tell which shared libraries Python "
            f"needs: install libc-bin (Debian) or glibc-common, or use {UNSAFE_SWITCH}"
        )
    found: set[str] = set()
    for start in range(0, len(binaries), 64):
        done = subprocess.run(
            [ldd, *binaries[start : start + 64]], capture_output=True, text=True, timeout=60
        )
        for match in _LDD_PATH.finditer(done.stdout):
            found.add(match.group(1))
    return found


@lru_cache(maxsize=8)
def runtime(python: str) -> Runtime:
    """The files the interpreter ``python`` needs inside the sandbox (computed once)."""
    executable = _base_interpreter(python)
    dirs = _query(executable)
    stdlib = os.path.realpath(dirs["stdlib"])
    roots = {stdlib, os.path.realpath(dirs.get("platstdlib") or stdlib)}
    dynload = dirs.get("dynload") or ""
    binaries = [executable]
    if dynload and os.path.isdir(dynload):
        roots.add(os.path.realpath(dynload))
        binaries += [
            str(p)
            for p in sorted(Path(dynload).glob("*.so"))
            if not p.name.startswith(_SKIPPED_EXTENSIONS)
        ]
    libraries = _shared_libraries(binaries)
    inside = [
        os.path.realpath(d)
        for d in (dirs.get("purelib"), dirs.get("platlib"), *_package_dirs(stdlib))
        if d and os.path.isdir(d)
    ]
    hidden = tuple(sorted({d for d in inside if any(d.startswith(r + os.sep) for r in roots)}))
    files = _minimal({executable, *roots, *libraries})
    return Runtime(executable=executable, files=files, hidden=hidden)


def _package_dirs(stdlib: str) -> list[str]:
    """Third-party package directories that live inside the standard library's directory."""
    return [os.path.join(stdlib, name) for name in ("site-packages", "dist-packages")]


def _minimal(paths: set[str]) -> tuple[str, ...]:
    """Drop paths already inside another bound directory; parents first."""
    ordered = sorted(paths, key=lambda p: (p.count(os.sep), p))
    kept: list[str] = []
    for path in ordered:
        if not any(path.startswith(k + os.sep) for k in kept if os.path.isdir(k)):
            kept.append(path)
    return tuple(kept)


def _parents(paths: tuple[str, ...]) -> list[str]:
    """Every directory above ``paths``, parents first (bwrap would create them mode 0700)."""
    parents = {str(p) for path in paths for p in Path(path).parents if str(p) != "/"}
    return sorted(parents, key=lambda p: (p.count(os.sep), p))


def command(
    rt: Runtime,
    *,
    tmp_bytes: int,
    as_root: bool,
    program_fd: int,
    program_path: str,
    bootstrap: list[str],
) -> list[str]:
    """The full bwrap argv that runs ``bootstrap`` (interpreter arguments) in the sandbox."""
    argv = [require_bwrap(), "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    argv += ["--unshare-cgroup-try", "--die-with-parent", "--new-session", "--clearenv"]
    if as_root:  # the bootstrap needs these two to become its private uid; it drops them at once
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
        argv += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID)]
    for name, value in (
        ("PATH", "/usr/bin:/bin"),
        ("LANG", "C.UTF-8"),
        ("HOME", TMP),
        ("TMPDIR", TMP),
        ("OMP_NUM_THREADS", "1"),
    ):
        argv += ["--setenv", name, value]
    for parent in _parents(rt.files):
        argv += ["--perms", "0755", "--dir", parent]
    for path in rt.files:
        argv += ["--ro-bind", path, path]
    for path in rt.hidden:
        argv += ["--tmpfs", path, "--remount-ro", path]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", TMP, "--chdir", TMP]
    argv += ["--ro-bind-data", str(program_fd), program_path]
    return [*argv, "--", rt.executable, *bootstrap]
