"""Hostile programs are contained and count as failures (real processes, no mocks).

Attacks come in two flavours: the naive one (``os.remove``, ``os.fork``, ``socket``) that the
in-process guard stops in every mode, and a bypass through ``posix``/``_socket``/``ctypes``
that only the kernel-level isolation (bubblewrap's namespaces and minimal root, the pids
cgroup) stops.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nemo_evaluator.sandbox import SandboxLimits, cgroup, check_many, identity, run_program

AUTO = SandboxLimits(timeout_s=3.0)
GUARD_ONLY = SandboxLimits(timeout_s=3.0, isolation="unsafe")

PRINT_WORKDIR = "import os, sys\nprint(sys.argv[-1], flush=True)\n"  # the check's name


def _workdir(stdout: str) -> str:
    return stdout.splitlines()[0].strip()


@pytest.fixture(params=[AUTO, GUARD_ONLY], ids=["bubblewrap", "unsafe"])
def limits(request):
    if request.param.isolation == "bubblewrap":
        request.getfixturevalue("bubblewrap")
    return request.param


def _machine_responds() -> bool:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", "print(42)"], capture_output=True, timeout=10)
    return done.stdout.strip() == b"42" and time.monotonic() - started < 5


@pytest.mark.slow
def test_infinite_loop_times_out_and_its_process_group_is_gone(limits, leftovers):
    limits = SandboxLimits(timeout_s=2.0, isolation=limits.isolation)
    program = PRINT_WORKDIR + (
        "import posix\n"
        "if posix.fork() == 0:\n"  # a grandchild in the same process group, also looping
        "    while True: pass\n"
        "while True: pass\n"
    )
    result = run_program(program, limits=limits)
    assert result.status == "timeout"
    assert not result.passed
    assert result.returncode is None
    assert 1.9 <= result.duration_s < 3.5
    assert leftovers(_workdir(result.stdout)) == []


@pytest.mark.slow
def test_cpu_time_limit_stops_a_busy_program_before_the_wall_clock(limits, leftovers):
    limits = SandboxLimits(timeout_s=20.0, cpu_time_s=1, isolation=limits.isolation)
    result = run_program("while True: pass", limits=limits)
    assert result.status == "timeout"
    assert result.duration_s < 10.0


def test_a_process_that_leaves_the_group_still_dies_with_the_namespace(bubblewrap, leftovers):
    program = PRINT_WORKDIR + (
        "import posix, time\n"
        "if posix.fork() == 0:\n"
        "    posix.setsid()\n"  # escapes the process group; the PID namespace still holds it
        "    time.sleep(60)\n"
        "time.sleep(0.2)\n"
    )
    result = run_program(program, limits=AUTO)
    assert result.passed, result.stderr
    assert leftovers(_workdir(result.stdout)) == []


def test_a_background_process_holding_the_output_does_not_delay_the_result(limits, leftovers):
    program = PRINT_WORKDIR + (
        "import posix, time\n"
        "if posix.fork() == 0:\n"  # keeps stdout open and never exits
        "    time.sleep(60)\n"
        "print('main done', flush=True)\n"
    )
    result = run_program(program, limits=SandboxLimits(timeout_s=5.0, isolation=limits.isolation))
    assert result.passed, result.stderr
    assert "main done" in result.stdout
    assert result.duration_s < 2.5
    assert leftovers(_workdir(result.stdout)) == []


@pytest.mark.slow
def test_fork_bomb_is_capped_and_every_process_is_gone(pids_cgroup, leftovers):
    program = PRINT_WORKDIR + (
        "import posix\n"
        "while True:\n"
        "    try:\n"
        "        posix.fork()\n"  # bypasses the guard: only the pids cgroup stops this
        "    except OSError:\n"
        "        pass\n"
    )
    limits = SandboxLimits(timeout_s=2.0, max_processes=32)
    # A neighbour started next to the bomb still gets its share of the CPU.
    result, neighbour = check_many([program, "print('fine')"], parallelism=2, limits=limits)
    assert not result.passed
    assert result.status in ("timeout", "failed", "crashed")
    assert result.duration_s < 4.0
    assert leftovers(_workdir(result.stdout)) == []
    assert _machine_responds()
    assert neighbour.passed and neighbour.stdout == "fine\n"
    if "cgroup-cpu" in neighbour.isolation:
        assert neighbour.duration_s < 1.5


COUNT_FORKS = PRINT_WORKDIR + (
    "import posix, time\n"
    "n = 0\n"
    "while True:\n"
    "    try:\n"
    "        pid = posix.fork()\n"
    "    except OSError:\n"
    "        break\n"
    "    if pid == 0:\n"
    "        time.sleep(30)\n"  # each child stays: the count only grows
    "        posix._exit(0)\n"
    "    n += 1\n"
    "print(n, os.getuid(), flush=True)\n"
)


@pytest.mark.slow
def test_as_root_without_a_pids_cgroup_the_private_uid_caps_a_fork_bomb(
    bubblewrap, monkeypatch, leftovers
):
    if os.geteuid() != 0:
        pytest.skip("root only; an ordinary user's cap is test_an_ordinary_user_gets_the_same_...")
    monkeypatch.setattr(cgroup, "_bases", cgroup._Bases())  # as on a host with no writable tree
    limits = SandboxLimits(timeout_s=3.0, max_processes=8)
    result = run_program(COUNT_FORKS, limits=limits)
    assert result.passed, result.stderr
    name, counted = result.stdout.splitlines()
    forks, uid = (int(v) for v in counted.split())
    assert forks == limits.max_processes - 1  # RLIMIT_NPROC counts the bootstrap too
    assert identity.PRIVATE_UID_BASE <= uid < identity.PRIVATE_UID_BASE + identity.PRIVATE_UID_SPAN
    assert "cgroup-pids" not in result.isolation and result.weaknesses == ()
    assert leftovers(name) == []
    # The real, exponential bomb: capped, then killed with its namespace at the deadline.
    bomb = PRINT_WORKDIR + "import posix\nwhile True:\n    try:\n        posix.fork()\n"
    bomb += "    except OSError:\n        pass\n"
    result = run_program(bomb, limits=SandboxLimits(timeout_s=2.0, max_processes=32))
    assert result.status == "timeout" and result.duration_s < 4.0
    assert leftovers(_workdir(result.stdout)) == []
    assert _machine_responds()


def test_the_cpu_quota_caps_a_busy_program(bubblewrap):
    probe = run_program("pass")
    if "cgroup-cpu" not in probe.isolation:
        pytest.skip("no writable cpu cgroup (cgroup v1 cpu, or v2 with cpu in subtree_control)")
    program = (
        "import time\n"
        "wall, cpu = time.monotonic(), time.process_time()\n"
        "while time.monotonic() - wall < 1.0:\n"
        "    pass\n"
        "print(time.process_time() - cpu)\n"
    )
    result = run_program(program, limits=SandboxLimits(timeout_s=10.0, cpus=0.25))
    assert result.passed, result.stderr
    assert float(result.stdout) < 0.4  # a quarter of a core over one second, plus slack


def test_naive_fork_bomb_is_refused_by_the_guard(limits, leftovers):
    program = PRINT_WORKDIR + "while True:\n    os.fork()\n"
    result = run_program(program, limits=limits)
    assert result.status == "failed"
    assert "TypeError" in result.stderr  # os.fork is disabled
    assert leftovers(_workdir(result.stdout)) == []


def test_deleting_a_file_outside_the_workdir_is_prevented(tmp_path, limits):
    victim = tmp_path / "keep.txt"
    victim.write_text("precious")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "f.txt").write_text("x")
    for attack in (
        f"import os\nos.remove({str(victim)!r})",
        f"import os\nos.unlink({str(victim)!r})",
        f"import shutil\nshutil.rmtree({str(tree)!r})",
        f"import os\nos.rename({str(victim)!r}, {str(victim)!r} + '.gone')",
        f"open({str(victim)!r}, 'w').write('overwritten')",
    ):
        result = run_program(attack, limits=limits)
        assert not result.passed, attack
    if limits.isolation != "unsafe":  # bypasses of the guard: the read-only mounts stop these
        for attack in (
            f"import posix\nposix.unlink({str(victim)!r})",
            f"import ctypes\nassert ctypes.CDLL(None).unlink({str(victim).encode()!r}) == 0",
        ):
            result = run_program(attack, limits=limits)
            assert not result.passed, attack
    assert victim.read_text() == "precious"
    assert (tree / "sub" / "f.txt").exists()


def test_privileges_are_gone_so_the_filesystem_cannot_be_remounted(bubblewrap):
    program = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "MS_REMOUNT, MS_BIND = 32, 4096\n"
        "assert libc.mount(None, b'/', None, MS_REMOUNT | MS_BIND, None) != 0\n"
        "assert ctypes.get_errno() == 1\n"  # EPERM: no CAP_SYS_ADMIN left
        "try:\n"
        "    fd = open('/proc/1/ns/net').fileno()\n"  # the host's network namespace
        "except PermissionError:\n"
        "    pass\n"
        "else:\n"
        "    assert libc.setns(fd, 0) != 0\n"
        "print('contained')\n"
    )
    result = run_program(program, limits=AUTO)
    assert result.passed, result.stderr
    assert result.stdout.strip() == "contained"


def test_allocating_10_gb_fails_quickly_with_status_memory(bubblewrap):
    result = run_program("buf = bytearray(10 * 1024**3)\nprint(len(buf))", limits=AUTO)
    assert result.status == "memory"
    assert not result.passed
    assert result.duration_s < 2.0
    assert result.stdout == ""


@pytest.fixture
def server(make_listener):
    return make_listener(socket.AF_INET, ("127.0.0.1", 0))


def test_socket_connect_to_a_listening_server_never_arrives(server, limits):
    # The server is reachable from here: the sandbox is what stops the program.
    port = server.address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    deadline = time.monotonic() + 2
    while len(server.received) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(server.received) == 1
    attacks = [
        "import socket\n"
        f"s = socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
        "s.sendall(b'hello')\n"
    ]
    if limits.isolation != "unsafe":  # the raw module bypasses the guard; the netns stops it
        attacks.append(f"import _socket\n_socket.socket().connect(('127.0.0.1', {port}))\n")
    for attack in attacks:
        result = run_program(attack, limits=limits)
        assert result.status == "failed", attack
    time.sleep(0.3)
    assert len(server.received) == 1


def test_the_working_directory_is_writable_and_removed_afterwards(limits):
    program = (
        "import os\nprint(os.getcwd(), flush=True)\n"
        "print(sorted(os.listdir('.')), flush=True)\n"
        "open('scratch.txt', 'w').write('ok')\n"
        "open('/dev/null', 'w').write('discarded')\n"
        "print(open('scratch.txt').read())\n"
    )
    first, second = run_program(program, limits=limits), run_program(program, limits=limits)
    for result in (first, second):
        assert result.passed, result.stderr
        assert result.stdout.splitlines()[2] == "ok"
    if limits.isolation == "bubblewrap":  # a private tmpfs per check, nothing on the host
        assert first.stdout.splitlines()[:2] == ["/tmp", "[]"]
        assert second.stdout.splitlines()[:2] == ["/tmp", "[]"]  # the first's file is gone
    else:
        workdir = Path(first.stdout.splitlines()[0])
        assert workdir.name.startswith("nemo-evaluator-sandbox-")
        assert not workdir.exists()
