"""Bootstrap executed inside a fresh ``python -I`` interpreter to run one untrusted program.

This file is never imported by the parent: its source is passed with ``-c`` and it uses the
standard library only (and as little of it as possible: imports are most of a check's cost).
Arguments: workdir, status fd, isolation mode, cgroups ("feature,...|dir;..." or "-"), memory MB, CPU seconds, file
MB. The status fd receives ``key=value`` lines (isolation, weak, error) describing what was
achieved, and is closed before any untrusted code runs.

Order of operations (each step only narrows what the program can do):

1. join the per-check pids and cpu cgroups (fork-bomb limit, CPU share), set rlimits (address space, CPU, file
   size, no core dumps);
2. enter new network, PID, mount, IPC and UTS namespaces (plain, or inside a new user namespace
   when unprivileged), make the mount namespace private and every mount read-only except a
   bind mount of the temporary working directory;
3. drop every capability and set no_new_privs, so the program cannot undo step 2;
4. report, fork twice (the first child is PID 1 of the new PID namespace and only waits: when
   it exits the kernel kills everything left in the namespace; the second runs the program),
   disable destructive functions and run the program.

``unshare``/``mount``/``capset`` go through ctypes because ``os.unshare`` only exists on
Python 3.12+ and the standard library has no ``mount`` or ``capset``.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing is not imported at run time: every import costs each check
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

MEMORY_EXIT = 86  # the program ran out of address space (MemoryError)
SETUP_EXIT = 87  # isolation that was required could not be set up
SIGNAL_EXIT_BASE = 160  # PID 1 reports "the program died of signal N" as 160 + N

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
_MOUNT_OPTION_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
    "strictatime": MS_STRICTATIME,
}

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
CAP_VERSION_3 = 0x20080522


def _libc() -> tuple[Any, Any]:
    import ctypes

    return ctypes, ctypes.CDLL(None, use_errno=True)


def _check(ctypes: Any, rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _join_cgroup(path: str) -> None:
    with open(os.path.join(path, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))


def _set_rlimits(memory_mb: int, cpu: int, file_mb: int) -> None:
    import resource

    mem = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    fsize = file_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _unshare(ctypes: Any, libc: Any, mode: str) -> list[str]:
    """Enter new namespaces; return the list of what was achieved (empty when none)."""
    base = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if mode in ("auto", "namespaces") and libc.unshare(base) == 0:
        return ["netns", "pidns", "mountns", "ipcns", "utsns"]
    if mode in ("auto", "namespaces", "userns"):
        uid, gid = os.geteuid(), os.getegid()
        if libc.unshare(base | CLONE_NEWUSER) == 0:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"0 {uid} 1")
            _write("/proc/self/gid_map", f"0 {gid} 1")
            return ["userns", "netns", "pidns", "mountns", "ipcns", "utsns"]
    return []


def _mountinfo() -> list[tuple[str, int]]:
    """(mount point, flags to keep) for every mount, parents first."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            point = parts[4].encode().decode("unicode_escape")  # \040 style escapes
            keep = 0
            for opt in parts[5].split(","):
                keep |= _MOUNT_OPTION_FLAGS.get(opt, 0)
            out.append((point, keep))
    return out


def _readonly_filesystem(ctypes: Any, libc: Any, workdir: str) -> list[str]:
    """Every mount read-only in this private namespace, except a bind mount of ``workdir``."""
    _check(ctypes, libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    wd = workdir.encode()
    _check(ctypes, libc.mount(wd, wd, None, MS_BIND, None), "bind workdir")
    failed = []
    for point, keep in _mountinfo():
        if point == workdir:
            continue
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY | keep
        if libc.mount(None, point.encode(), None, flags, None) != 0:
            failed.append(point)
    return failed


def _drop_capabilities(ctypes: Any, libc: Any) -> None:
    _check(ctypes, libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except OSError:
        last = 40
    for cap in range(last + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EPERM when unprivileged: nothing to drop
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable x 2 words, all zero
    _check(ctypes, libc.capset(header, data), "capset")


_DISABLED = {
    "os": "kill killpg system popen putenv unsetenv remove removedirs rmdir unlink rename renames "
    "replace truncate ftruncate link symlink fork forkpty fchdir chdir chroot chmod fchmod lchmod "
    "chown fchown lchown lchflags chflags setuid seteuid setreuid setresuid setgid setegid setregid "
    "setresgid setgroups setsid setpgid execl execle execlp execlpe execv execve execvp execvpe "
    "spawnl spawnle spawnlp spawnlpe spawnv spawnve spawnvp spawnvpe posix_spawn posix_spawnp "
    "register_at_fork",
    "shutil": "rmtree move chown copytree",
    "subprocess": "Popen call run check_call check_output getoutput getstatusoutput",
    "builtins": "exit quit help",
}
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
    """Without a read-only mount namespace: refuse ``open``/``os.open`` for writing outside the
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


def _guard(block_sockets: bool) -> None:
    """Disable functions that destroy files, kill or spawn processes, or change identity.

    Defence in depth: with namespaces and a read-only filesystem these are contained anyway;
    without them this is the main line of defence (and ``posix``/``ctypes`` can bypass it).
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
    if block_sockets:  # no network namespace: refuse to load the socket modules at all
        for name in ("_socket", "socket", "ssl", "_ssl", "asyncio"):
            sys.modules[name] = None  # type: ignore[assignment]


def _run_program(path: str, block_sockets: bool, confine_writes: bool) -> None:
    with open(path, encoding="utf-8") as f:
        source = f.read()
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        code = compile(source, "program.py", "exec")
        _guard(block_sockets)
        if confine_writes:
            _confine_writes(os.path.dirname(path))
        exec(code, namespace)
    except MemoryError:
        sys.stderr.write("MemoryError: the program exceeded the sandbox memory limit\n")
        sys.stderr.flush()
        os._exit(MEMORY_EXIT)
    except SystemExit:
        raise
    except BaseException as exc:
        import traceback

        # Show the program's frames only, not this bootstrap's.
        tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        traceback.print_exception(type(exc), exc, tb if tb is not None else exc.__traceback__)
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(1)
    sys.stdout.flush()


def _wait_for(pid: int) -> tuple[int, int]:
    """(signal number or 0, exit code) of child ``pid``."""
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return os.WTERMSIG(status), 0
    return 0, os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1


def _reap_as_init(pid: int) -> None:
    """PID 1 of the namespace: wait for the program, then exit (the kernel kills the rest).

    The program runs as PID 2 because init gets no default-action signals (SIGXCPU, SIGSEGV
    from kill, ...). Init cannot re-raise a signal on itself either, so a signal death is
    passed up as exit code SIGNAL_EXIT_BASE + signal and turned back into one by ``_relay``.
    """
    sig, code = _wait_for(pid)
    os._exit(SIGNAL_EXIT_BASE + sig if sig else code)


def _relay(pid: int) -> None:
    """Outside the namespace: wait for its PID 1 and exit the same way the program did."""
    sig, code = _wait_for(pid)
    if not sig and SIGNAL_EXIT_BASE < code < SIGNAL_EXIT_BASE + 32:
        sig = code - SIGNAL_EXIT_BASE
    if sig:
        import signal

        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(code)


def main() -> None:
    workdir, status_fd, mode, group, memory_mb, cpu_s, file_mb = sys.argv[1:8]
    isolation, weak, error = [], [], ""
    try:
        if group != "-":
            features, _, paths = group.partition("|")
            for path in paths.split(";"):
                _join_cgroup(path)
            isolation += features.split(",")
        _set_rlimits(int(memory_mb), int(cpu_s), int(file_mb))
        isolation.append("rlimits")
        if mode != "none":
            ctypes, libc = _libc()
            achieved = _unshare(ctypes, libc, mode)
            isolation += achieved
            if not achieved:
                weak.append("no namespaces: sockets and writes blocked in-process only")
                if mode == "namespaces":
                    raise OSError("namespaces are unavailable (unshare failed)")
            else:
                failed = _readonly_filesystem(ctypes, libc, workdir)
                isolation.append("readonly-fs")
                if failed:
                    weak.append("writable mounts: " + " ".join(failed))
            try:
                _drop_capabilities(ctypes, libc)
                isolation.append("no-capabilities")
            except OSError as exc:
                weak.append(f"capabilities kept ({exc.strerror})")
        os.chdir(workdir)
    except OSError as exc:
        error = f"sandbox setup failed: {exc}"
    isolation.append("guard")
    with os.fdopen(int(status_fd), "w") as report:
        report.write(f"isolation={','.join(isolation)}\nweak={';'.join(weak)}\nerror={error}\n")
    if error:
        os._exit(SETUP_EXIT)
    block_sockets = "netns" not in isolation
    program = os.path.join(workdir, "program.py")
    if "pidns" in isolation:
        pid = os.fork()
        if pid:
            os.closerange(3, 256)
            _relay(pid)
        pid = os.fork()
        if pid:
            os.closerange(3, 256)
            _reap_as_init(pid)
    _run_program(program, block_sockets, "readonly-fs" not in isolation)


main()
