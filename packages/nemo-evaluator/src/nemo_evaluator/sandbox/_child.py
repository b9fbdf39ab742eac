"""Bootstrap executed inside a fresh ``python -I`` interpreter to run one untrusted program.

This file is never imported by the parent: its source is passed with ``-c`` and it uses the
standard library only (and as little of it as possible: imports are most of a check's cost).
Arguments: program path, status fd, token fd, sentinel fd, tests fd (-1: a whole program),
mode (``bubblewrap`` or ``unsafe``), the uid to become (0: stay), memory MB, CPU seconds,
file MB, process cap (0: none), and the check's name (only there to find its processes).

Order of operations (each step only narrows what the program can do):

1. read the program; as root inside bubblewrap, become the check's private uid (no capability
   survives; ``RLIMIT_NPROC`` then counts this check's processes only);
2. set rlimits (address space, CPU, file size, no core dumps, the process count) and report
   what is in force on the status fd;
3. a whole program: read the token, disable destructive functions, run the program, and write
   the token to the sentinel fd only when it returned normally;
4. a ``CandidateCheck``: become non-dumpable, run the trusted setup and fork; the child closes
   the token, sentinel and tests fds, runs the candidate and answers calls on a pipe; the
   harness reads the token and the tests after the fork and writes the token once the tests
   returned (docs/sandbox.md, "Pass", says why the child cannot forge it).
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


def _become(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # from root to non-zero uids: every capability goes


def _make_undumpable() -> None:
    """PR_SET_DUMPABLE 0, inherited by fork: a process of the same uid without
    CAP_SYS_PTRACE can no longer read our memory or open our fds through /proc."""
    if os.stat("/proc/self").st_uid != os.getuid():  # root's: already so (the uid changed)
        return
    import ctypes  # ~8 ms: only where no uid change did it (an ordinary user's sandbox)

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0 or libc.prctl(3, 0, 0, 0, 0) != 0:  # SET/GET_DUMPABLE
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def _set_rlimits(memory_mb: int, cpu: int, file_mb: int, nproc: int) -> None:
    import resource

    mem = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    fsize = file_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if nproc:  # counted per uid (per user namespace): only this check's processes
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


def _execute(source: str, namespace: dict[str, Any], unsafe: bool) -> None:
    """Run untrusted ``source``; a MemoryError or an exception ends the process here."""
    try:
        code = compile(source, "program.py", "exec")
        _guard(unsafe)
        if unsafe:
            _confine_writes(os.getcwd())
        exec(code, namespace)
    except MemoryError:
        _out_of_memory()
    except SystemExit:
        raise  # the program ended itself before the harness finished: no token
    except BaseException as exc:
        _print_exception(exc)
        os._exit(1)


def _out_of_memory() -> None:
    sys.stderr.write("MemoryError: the program exceeded the sandbox memory limit\n")
    sys.stderr.flush()
    os._exit(MEMORY_EXIT)


def _print_exception(exc: BaseException) -> None:
    import traceback

    # Show the program's frames only, not this bootstrap's.
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    traceback.print_exception(type(exc), exc, tb if tb is not None else exc.__traceback__)
    sys.stderr.flush()
    sys.stdout.flush()


def _run_program(source: str, finish: Callable[[], None], unsafe: bool) -> None:
    _execute(source, {"__name__": "__main__", "__builtins__": __builtins__}, unsafe)
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


def _send(fd: int, data: bytes) -> None:
    """One frame: an 8-byte length, then the bytes."""
    view = memoryview(len(data).to_bytes(8, "big") + data)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int) -> bytes | None:
    """The next frame, or None at end of file (the writer is gone) or on a short frame."""
    head = _read_exactly(fd, 8)
    if head is None:
        return None
    return _read_exactly(fd, int.from_bytes(head, "big"))


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        data = os.read(fd, min(left, 1 << 20))
        if not data:
            return None
        chunks.append(data)
        left -= len(data)
    return b"".join(chunks)


class _CandidateGone(BaseException):
    """The candidate's process ended or broke the protocol: no test may catch this."""


class CandidateRaised(Exception):
    """The candidate raised; the message is its exception's type and text."""


def _plain_data_loader() -> type:
    import _pickle

    allowed = {"complex": complex, "set": set, "frozenset": frozenset, "bytearray": bytearray}

    class PlainData(_pickle.Unpickler):
        """Unpickles built-in data only: no class of the candidate's, no callable."""

        def find_class(self, module: str, name: str) -> Any:
            if module == "builtins" and name in allowed:
                return allowed[name]
            raise _pickle.UnpicklingError(f"{module}.{name} is not plain data")

    return PlainData


class _Candidate:
    """The entry point as the tests see it: each call is sent to the candidate's process."""

    def __init__(self, name: str, calls: int, answers: int) -> None:
        import _pickle
        import io

        self.__name__ = self.__qualname__ = name
        self.calls, self.answers, self.gone = calls, answers, False
        self._dumps, self._bytes_io, self._loader = _pickle.dumps, io.BytesIO, _plain_data_loader()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.gone:
            raise _CandidateGone
        request = self._dumps((self.__name__, args, kwargs), protocol=4)
        try:
            _send(self.calls, request)
            data = _receive(self.answers)
        except OSError:
            data = None
        try:
            answer = self._loader(self._bytes_io(data)).load() if data is not None else None
        except Exception:  # not plain data: the candidate broke the protocol
            answer = None
        if type(answer) is tuple and len(answer) == 2 and answer[0] == "ok":
            return answer[1]
        if type(answer) is tuple and len(answer) == 2 and answer[0] == "raise":
            raise CandidateRaised(str(answer[1]))
        self.gone = True
        raise _CandidateGone


def _serve(source: str, calls: int, answers: int, unsafe: bool) -> None:
    """The candidate's process: run its code, then answer calls until the harness is done."""
    import _pickle

    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    _execute(source, namespace, unsafe)
    dumps, loads = _pickle.dumps, _pickle.loads
    while (request := _receive(calls)) is not None:
        name, args, kwargs = loads(request)
        try:
            answer: tuple[str, Any] = ("ok", namespace[name](*args, **kwargs))
        except MemoryError:
            _out_of_memory()
        except SystemExit:
            raise
        except BaseException as exc:
            _print_exception(exc)
            answer = ("raise", f"{type(exc).__name__}: {exc}")
        try:
            data = dumps(answer, protocol=4)
        except Exception as exc:
            kind = type(answer[1]).__name__
            data = dumps(("raise", f"the candidate returned a {kind}, not plain data: {exc}"))
        _send(answers, data)
    os._exit(0)


def _mirror(pid: int) -> None:
    """End as the candidate's process ended (its exit status or signal): never a pass."""
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        import signal

        sig = os.WTERMSIG(status)
        import contextlib

        with contextlib.suppress(OSError, ValueError):  # SIGKILL and SIGSTOP keep theirs
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def _run_split(source: str, fds: tuple[int, int, int], unsafe: bool) -> None:
    """A candidate and its tests in two processes; only the harness can finish the check."""
    token_fd, sentinel_fd, tests_fd = fds
    setup = (_receive(tests_fd) or b"").decode("utf-8")
    entry_point = (_receive(tests_fd) or b"").decode("utf-8")
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(setup, "setup.py", "exec"), namespace)  # trusted: the prompt's helpers
    except BaseException as exc:
        _print_exception(exc)
        os._exit(1)
    import _pickle  # noqa: F401 - imported once, before the fork, for both processes

    calls_r, calls_w = os.pipe()
    answers_r, answers_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the candidate: nothing of the harness stays open here
        for fd in (token_fd, sentinel_fd, tests_fd, calls_w, answers_r):
            os.close(fd)
        _serve(source, calls_r, answers_w, unsafe)
    os.close(calls_r)
    os.close(answers_w)
    token = os.read(token_fd, 64)
    os.close(token_fd)
    tests = (_receive(tests_fd) or b"").decode("utf-8")
    os.close(tests_fd)
    candidate = _Candidate(entry_point, calls_w, answers_r)
    namespace[entry_point] = candidate
    try:
        exec(compile(tests, "tests.py", "exec"), namespace)
    except _CandidateGone:
        pass
    except MemoryError:
        _out_of_memory()
    except BaseException as exc:
        if not candidate.gone:
            _print_exception(exc)
            os._exit(1)
    os.close(calls_w)  # the candidate sees the end of the calls
    if candidate.gone:
        _mirror(pid)
    _finisher(token, sentinel_fd)()


def main() -> None:
    path, status_fd, token_fd, sentinel_fd, tests_fd, mode, uid = sys.argv[1:8]
    memory_mb, cpu_s, file_mb, nproc = (int(v) for v in sys.argv[8:12])
    isolation, error = [], ""
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        if uid != "0":
            _become(int(uid))
            isolation.append("private-uid")
        _set_rlimits(memory_mb, cpu_s, file_mb, nproc)
        isolation.append("rlimits")
        if tests_fd != "-1":
            _make_undumpable()
            isolation.append("separate-harness")
    except OSError as exc:
        error = f"sandbox setup failed: {exc}"
    isolation.append("guard")
    with os.fdopen(int(status_fd), "w") as report:
        report.write(f"isolation={','.join(isolation)}\nerror={error}\n")
    if error:
        os._exit(SETUP_EXIT)
    unsafe = mode == "unsafe"
    if tests_fd != "-1":
        _run_split(source, (int(token_fd), int(sentinel_fd), int(tests_fd)), unsafe)
    token = os.read(int(token_fd), 64)
    os.close(int(token_fd))
    _run_program(source, _finisher(token, int(sentinel_fd)), unsafe)


main()
