"""Bootstrap executed inside a fresh ``python -I`` interpreter to run one untrusted program.

This file is never imported by the parent: its source is passed with ``-c`` and it uses the
standard library only (and as little of it as possible: imports are most of a check's cost).
Arguments: program path, status fd, token fd, sentinel fd, mode (``bubblewrap`` or
``unsafe``), whether to become nobody, memory MB, CPU seconds, file MB, process cap (0: none),
and the check's name (only there to find its processes in a listing).

Order of operations (each step only narrows what the program can do):

1. read the per-check token from the token fd and close it, and read the program;
2. when started as root inside bubblewrap, give up root for nobody (no capability survives);
3. set rlimits (address space, CPU, file size, no core dumps, and the process count when the
   check has its own user namespace);
4. report what is in force on the status fd and close it;
5. disable destructive functions (and, in the unsafe mode, sockets and writes outside the
   working directory) and run the program;
6. only when the program returned normally, write the token to the sentinel fd: the parent
   counts a pass only with the exact token, so ``sys.exit(0)``, ``os._exit(0)``, a signal or
   printed text that looks like success is not one.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing is not imported at run time: every import costs each check
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

MEMORY_EXIT = 86  # the program ran out of address space (MemoryError)
SETUP_EXIT = 87  # the sandbox could not be set up
NOBODY = 65534


def _become_nobody() -> None:
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)  # from root to non-zero uids: every capability goes


def _set_rlimits(memory_mb: int, cpu: int, file_mb: int, nproc: int) -> None:
    import resource

    mem = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    fsize = file_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if nproc:  # counted per user namespace: only this check's processes
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


_DISABLED = {
    "os": "kill killpg system popen putenv unsetenv remove removedirs rmdir unlink rename renames "
    "replace truncate ftruncate link symlink fork forkpty fchdir chdir chroot chmod fchmod lchmod "
    "chown fchown lchown lchflags chflags setuid seteuid setreuid setresuid setgid setegid setregid "
    "setresgid setgroups setsid setpgid execl execle execlp execlpe execv execve execvp execvpe "
    "spawnl spawnle spawnlp spawnlpe spawnv spawnve spawnvp spawnvpe posix_spawn posix_spawnp",
    "shutil": "rmtree move chown copytree",
    "subprocess": "Popen call run check_call check_output getoutput getstatusoutput",
    "builtins": "exit quit help",
}
# os.register_at_fork stays: ``random`` calls it on import (four HumanEval tests import random).
_BLOCKED_MODULES = ("ipdb", "joblib", "resource", "psutil", "tkinter", "multiprocessing")


def _disable(module: ModuleType) -> None:
    for name in _DISABLED[module.__name__].split():
        if hasattr(module, name):
            setattr(module, name, None)


class _DisableOnImport:
    """Meta-path finder: when the program imports shutil or subprocess, disable their
    destructive functions right after the module loads. Lazy, so checks that never import them
    do not pay ~20 ms of imports each."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in _DISABLED:
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader_exec = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            loader_exec(module)
            _disable(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _confine_writes(workdir: str) -> None:
    """In the unsafe mode: refuse ``open``/``os.open`` for writing outside the
    working directory (a guard, not a wall: ``posix.open`` or ctypes get around it)."""
    import builtins
    import io

    root = os.path.realpath(workdir) + os.sep
    allowed = ("/dev/null",)
    real_open, real_os_open = builtins.open, os.open
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def check(path: Any) -> None:
        if isinstance(path, int):
            return
        full = os.path.realpath(os.fsdecode(path))
        if not (full + os.sep).startswith(root) and full not in allowed:
            raise PermissionError(f"writing outside the sandbox directory is disabled: {full}")

    def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(c in mode for c in "wax+"):
            check(file)
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & write_flags:
            check(path)
        return real_os_open(path, flags, *args, **kwargs)

    builtins.open = io.open = guarded_open
    os.open = guarded_os_open


def _guard(unsafe: bool) -> None:
    """Disable functions that destroy files, kill or spawn processes, or change identity.

    Defence in depth: inside bubblewrap these are contained anyway; in the unsafe mode this is
    the only line of defence (and ``posix``/``ctypes`` get around it).
    """
    import builtins

    if "faulthandler" in sys.modules:
        sys.modules["faulthandler"].disable()
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in _DISABLED:
        if name in sys.modules:
            _disable(sys.modules[name])
    _disable(builtins)
    sys.meta_path.insert(0, _DisableOnImport())
    for name in _BLOCKED_MODULES:
        sys.modules[name] = None  # type: ignore[assignment]
    if unsafe:  # no network namespace: refuse to load the socket modules at all
        for name in ("_socket", "socket", "ssl", "_ssl", "asyncio"):
            sys.modules[name] = None  # type: ignore[assignment]


def _run_program(source: str, finish: Callable[[], None], unsafe: bool) -> None:
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        code = compile(source, "program.py", "exec")
        _guard(unsafe)
        if unsafe:
            _confine_writes(os.getcwd())
        exec(code, namespace)
    except MemoryError:
        sys.stderr.write("MemoryError: the program exceeded the sandbox memory limit\n")
        sys.stderr.flush()
        os._exit(MEMORY_EXIT)
    except SystemExit:
        raise  # the program ended itself before the harness finished: no token
    except BaseException as exc:
        import traceback

        # Show the program's frames only, not this bootstrap's.
        tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        traceback.print_exception(type(exc), exc, tb if tb is not None else exc.__traceback__)
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(1)
    finish()


def _finisher(token: bytes, sentinel_fd: int) -> Callable[[], None]:
    """Write ``token`` once the program returned, from the process that started it only.

    The functions are bound now, so a program that replaces ``os.write`` or ``os.getpid``
    changes nothing here.
    """
    started_as, getpid, write, exit_now = os.getpid(), os.getpid, os.write, os._exit

    def finish() -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                exit_now(1)
        if getpid() != started_as:  # a forked copy of the program is not the harness
            exit_now(1)
        try:
            write(sentinel_fd, token)
        except OSError:
            exit_now(1)
        exit_now(0)

    return finish


def main() -> None:
    path, status_fd, token_fd, sentinel_fd, mode, drop = sys.argv[1:7]
    memory_mb, cpu_s, file_mb, nproc = (int(v) for v in sys.argv[7:11])
    isolation, error = [], ""
    try:
        token = os.read(int(token_fd), 64)
        os.close(int(token_fd))
        with open(path, encoding="utf-8") as f:
            source = f.read()
        if drop == "1":
            _become_nobody()
            isolation.append("uid-nobody")
        _set_rlimits(memory_mb, cpu_s, file_mb, nproc)
        isolation.append("rlimits")
    except OSError as exc:
        error = f"sandbox setup failed: {exc}"
    isolation.append("guard")
    with os.fdopen(int(status_fd), "w") as report:
        report.write(f"isolation={','.join(isolation)}\nerror={error}\n")
    if error:
        os._exit(SETUP_EXIT)
    _run_program(source, _finisher(token, int(sentinel_fd)), mode == "unsafe")


main()
