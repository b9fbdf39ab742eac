"""``nemo-eval deploy`` as a launcher runs it: the ready line, SIGTERM, one-line errors."""

from __future__ import annotations

import io
import re
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest
import requests

CLI = [sys.executable, "-m", "nemo_eval.cli", "deploy"]
READY = re.compile(r"^nemo-eval: serving (\S+) at (http://127\.0\.0\.1:(\d+)) ")


def _run_error(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args, "--run-dir", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_missing_checkpoint_is_exit_2_with_one_line(tmp_path: Path) -> None:
    proc = _run_error(["--checkpoint", str(tmp_path / "nope.nemo"), "--port", "0"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nemo-eval: error: "), proc.stderr
    assert "does not exist" in lines[0] and proc.stdout == ""


def test_wrong_format_checkpoint_is_exit_2_with_one_line(tmp_path: Path) -> None:
    archive = tmp_path / "no_config.nemo"
    with tarfile.open(archive, "w:") as tar:
        info = tarfile.TarInfo("model_weights/common.pt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"\0\0\0\0"))
    proc = _run_error(["--checkpoint", str(archive), "--port", "0"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no model_config.yaml" in lines[0], proc.stderr


def test_bad_argument_value_is_exit_2(tmp_path: Path) -> None:
    proc = _run_error(["--port", "0", "--max-batch-size", "0"], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "nemo-eval: error: max_batch_size must be a positive integer, got 0"
    ]


@pytest.mark.model
@pytest.mark.slow
def test_ready_line_then_sigterm_exits_0_and_frees_the_port(smol_dir: Path, tmp_path: Path) -> None:
    stderr_path = tmp_path / "stderr.txt"
    stderr = stderr_path.open("w")  # a file, so a chatty child never blocks on a full pipe
    proc = subprocess.Popen(
        [*CLI, "--port", "0", "--run-dir", str(tmp_path / "run"), "--max-input-len", "128"],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")))
        reader.start()  # the pipe is read on a thread so the wait below is bounded in time
        deadline = time.monotonic() + 240
        while not lines and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert lines, f"no ready line (exit {proc.poll()}): {stderr_path.read_text()}"
        match = READY.match(lines[0])
        assert match, lines[0]
        assert match.group(1) == "SmolLM2-135M-Instruct"
        url, port = match.group(2), int(match.group(3))
        assert requests.get(f"{url}/v1/health", timeout=10).status_code == 200
        resp = requests.post(
            f"{url}/v1/completions", json={"prompt": "1, 2, 3,", "max_tokens": 2}, timeout=120
        )
        assert resp.status_code == 200 and resp.json()["choices"][0]["text"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, stderr_path.read_text()
        reader.join(timeout=10)
        assert lines[-1].strip() == "nemo-eval: stopped"
        # the exit finalizes what was loaded: native modules report no leaked objects
        assert "leaked" not in stderr_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        stderr.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/v1/health", timeout=5)
    with socket.socket() as sock:
        # SO_REUSEADDR tolerates the closed connections' TIME_WAIT but not a listening socket
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


def test_version_and_no_abbreviated_options() -> None:
    script = Path(sys.executable).with_name("nemo-eval")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("nemo-eval 0.")
    # --check is a prefix of --checkpoint: refused, never taken for it
    done = subprocess.run(
        [str(script), "deploy", "--check", "x.gguf"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "unrecognized arguments: --check" in done.stderr
