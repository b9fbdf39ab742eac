"""Process wrapper of the local executor: ``python -m nv_eval.executors.supervise``.

It waits for its turn (jobs take slots in submission order: job ``--order N`` waits until
every earlier job has taken a slot, ended, or died), then for a free concurrency slot (an
``flock`` on one of ``--slots`` lock files; the kernel releases it when the holder dies, so a
crash never leaks a slot), writes the
``started`` marker, runs the job, and writes ``exit_code`` when the job ends, also when it
was terminated. Written by hand because it is a few lines of ``fcntl`` and ``subprocess``.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .base import JOB_DIR_TOKEN, write_marker

_POLL_S = 0.3


def _acquire_slot(slots_dir: Path, slots: int) -> int:
    slots_dir.mkdir(parents=True, exist_ok=True)
    while True:
        for k in range(slots):
            fd = os.open(slots_dir / f"slot-{k}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return fd  # held until this process exits
        time.sleep(_POLL_S)


def _locked_by_someone(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _announce_alive(slots_dir: Path, order: int) -> int:
    """Hold ``alive-N`` while this supervisor lives, so later jobs can tell it died."""
    slots_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(slots_dir / f"alive-{order}", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _take_turn(slots_dir: Path, order: int) -> None:
    (slots_dir / f"turn-{order}").touch()


def _wait_for_turn(slots_dir: Path, order: int) -> None:
    """Wait until every job submitted before this one has taken a slot, ended or died."""
    for earlier in range(order):
        while not (slots_dir / f"turn-{earlier}").exists():
            alive = slots_dir / f"alive-{earlier}"
            if alive.exists() and not _locked_by_someone(alive):
                break  # its supervisor died before taking a slot
            time.sleep(_POLL_S)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nv_eval.executors.supervise")
    parser.add_argument("--job-dir", required=True)
    parser.add_argument("--slots-dir", required=True)
    parser.add_argument("--slots", type=int, default=1)
    parser.add_argument("--order", type=int, default=None, help="submission index of the job")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    job_dir = Path(args.job_dir)
    slots_dir = Path(args.slots_dir)
    if args.order is not None:
        _alive_fd = _announce_alive(slots_dir, args.order)  # held until this process exits
    command = [c.replace(JOB_DIR_TOKEN, str(job_dir)) for c in args.command]
    if command and command[0] == "--":
        command = command[1:]
    child: subprocess.Popen[bytes] | None = None
    stopping = False

    def _terminate(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)
        else:
            if args.order is not None:
                _take_turn(slots_dir, args.order)
            write_marker(job_dir, "exit_code", str(128 + signum))
            os._exit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    if args.order is not None:
        _wait_for_turn(slots_dir, args.order)
    _acquire_slot(slots_dir, max(1, args.slots))
    if args.order is not None:
        _take_turn(slots_dir, args.order)
    if stopping:
        return 143
    write_marker(job_dir, "started", f"{time.time():.3f}")
    try:
        child = subprocess.Popen(command, cwd=job_dir)
        code = child.wait()
    except OSError as err:
        write_marker(job_dir, "error", f"cannot start {command[0]}: {err}")
        code = 127
    write_marker(job_dir, "exit_code", str(code if code >= 0 else 128 - code))
    return 0


if __name__ == "__main__":
    sys.exit(main())
