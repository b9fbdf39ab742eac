"""Ordinary programs: pass/fail, output capture and truncation, limits, parallel checks."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from nemo_evaluator.errors import ConfigError, NemoEvaluatorError
from nemo_evaluator.sandbox import SandboxError, SandboxLimits, check_many, run_program

pytestmark = pytest.mark.usefixtures("bubblewrap")

HUMANEVAL = Path("/work/shared/datasets/humaneval/HumanEval.jsonl.gz")


def test_a_correct_program_passes_with_its_output():
    result = run_program("def add(a, b):\n    return a + b\nassert add(2, 3) == 5\nprint('ok')\n")
    assert result.passed
    assert result.status == "passed"
    assert result.returncode == 0
    assert result.stdout == "ok\n"
    assert result.stderr == ""
    assert 0 < result.duration_s < 3.0


def test_an_assertion_error_fails_and_shows_the_programs_traceback():
    result = run_program("x = 1\nassert x == 2, 'x should be two'\n")
    assert result.status == "failed"
    assert not result.passed
    assert result.returncode == 1
    assert "AssertionError: x should be two" in result.stderr
    assert 'File "program.py", line 2' in result.stderr
    assert "_run_program" not in result.stderr  # the bootstrap's own frames are hidden


def test_syntax_error_and_nonzero_exit_fail():
    assert run_program("def f(:\n").status == "failed"
    result = run_program("import sys\nsys.exit(3)")
    assert (result.status, result.returncode) == ("failed", 3)


def test_output_is_truncated_to_the_limit():
    limits = SandboxLimits(max_output_bytes=1000)
    result = run_program(
        "import sys\nprint('x' * 1_000_000)\nsys.stderr.write('e' * 5000)", limits=limits
    )
    assert result.passed
    assert result.stdout_truncated and result.stderr_truncated
    assert result.stdout.startswith("x" * 1000)
    assert result.stdout.count("x") == 1000
    assert result.stderr.removesuffix("\n[... output truncated ...]") == "e" * 1000
    assert result.stdout.endswith("[... output truncated ...]")


def test_stdin_is_empty():
    result = run_program("import sys\nassert sys.stdin.read() == ''\n")
    assert result.passed, result.stderr


def test_bad_limits_are_config_errors_and_a_missing_interpreter_a_sandbox_error():
    with pytest.raises(ConfigError, match="timeout_s"):
        SandboxLimits(timeout_s=0)
    with pytest.raises(ConfigError, match="memory_mb"):
        SandboxLimits(memory_mb=63)
    SandboxLimits(memory_mb=64)
    with pytest.raises(ConfigError, match="isolation must be bubblewrap or unsafe"):
        SandboxLimits(isolation="auto")  # type: ignore[arg-type]
    with pytest.raises(SandboxError, match="no Python interpreter"):
        run_program("pass", python="/nonexistent/python3")
    assert issubclass(SandboxError, NemoEvaluatorError)


def test_the_unsafe_mode_reports_itself_as_weaker():
    result = run_program("pass", limits=SandboxLimits(isolation="unsafe"))
    assert result.passed
    assert "netns" not in result.isolation and "bubblewrap" not in result.isolation
    assert "guard" in result.isolation
    assert any(w.startswith("unsafe:") for w in result.weaknesses)
    full = run_program("pass")
    assert {"bubblewrap", "pidns", "netns", "minimal-root", "sentinel"} <= set(full.isolation)


def test_check_many_keeps_order_across_a_mix_of_outcomes():
    programs = ["assert True", "assert False", "print(7)", "raise ValueError('v')"] * 3
    results = check_many(programs, parallelism=4)
    assert [r.status for r in results] == ["passed", "failed", "passed", "failed"] * 3
    assert [r.stdout for r in results][2::4] == ["7\n"] * 3


def test_checks_from_many_threads_do_not_interfere():
    outcomes: dict[int, str] = {}

    def one(i: int) -> None:
        outcomes[i] = run_program(f"print({i})").stdout.strip()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert outcomes == {i: str(i) for i in range(8)}


def _humaneval_items(count: int) -> list[dict[str, str]]:
    if not HUMANEVAL.exists():
        pytest.skip(f"{HUMANEVAL} is missing (see /work/shared/datasets/SOURCES.md)")
    with gzip.open(HUMANEVAL, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in itertools.islice(f, count)]


def _program(item: dict[str, str], body: str) -> str:
    return f"{item['prompt']}{body}\n\n{item['test']}\n\ncheck({item['entry_point']})\n"


def test_real_humaneval_items_pass_with_the_canonical_solution_and_fail_with_a_wrong_body():
    items = _humaneval_items(5)
    good = [_program(item, item["canonical_solution"]) for item in items]
    bad = [_program(item, "    return None\n") for item in items]
    results = check_many(good + bad, parallelism=2)
    assert [r.status for r in results[:5]] == ["passed"] * 5, [r.stderr for r in results[:5]]
    assert [r.status for r in results[5:]] == ["failed"] * 5
    assert all("AssertionError" in r.stderr or "Error" in r.stderr for r in results[5:])


_AS_ORDINARY_USER = """
import sys
sys.path[:0] = {paths!r}
from nemo_evaluator.sandbox import SandboxLimits, run_program
probe = "import os\\nprint(os.getuid(), sorted(os.listdir('/')))\\n"
bomb = "import posix, time\\nn = 0\\nwhile True:\\n    try:\\n        pid = posix.fork()\\n    except OSError:\\n        break\\n    if pid == 0:\\n        time.sleep(30)\\n        posix._exit(0)\\n    n += 1\\nprint(n)\\n"
for program in (probe, bomb):
    r = run_program(program, python=sys.executable, limits=SandboxLimits(max_processes=8))
    print(r.status, r.stdout.splitlines()[:1], ",".join(r.isolation))
"""


def test_an_ordinary_user_gets_the_same_sandbox_inside_a_user_namespace():
    """bubblewrap run as nobody on the host: a new user namespace, the process cap per check."""
    python, setpriv = Path("/usr/bin/python3"), shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None or not python.exists():
        pytest.skip("needs root (to become nobody), setpriv (util-linux) and /usr/bin/python3")
    theirs = subprocess.run(
        [str(python), "-c", "import sys; print(sys.implementation.cache_tag)"],
        capture_output=True, text=True, timeout=30,
    ).stdout.strip()  # fmt: skip
    if theirs != sys.implementation.cache_tag:  # compiled dependencies would not load there
        pytest.skip(
            f"/usr/bin/python3 is {theirs}, these tests run on {sys.implementation.cache_tag}"
        )
    import pydantic

    import nemo_evaluator
    import nvidia_eval_commons

    # The workspace's packages and its dependencies (pure Python, or built for this CPython).
    modules = (nemo_evaluator, nvidia_eval_commons, pydantic)
    paths = [str(Path(m.__file__).parents[1]) for m in modules]
    done = subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", str(python), "-c",
         _AS_ORDINARY_USER.format(paths=paths)],
        capture_output=True, text=True, timeout=120, cwd="/",
    )  # fmt: skip
    if done.returncode != 0 and "No module named" in done.stderr:
        pytest.skip(f"/usr/bin/python3 cannot import the sandbox: {done.stderr.strip()[-200:]}")
    assert done.returncode == 0, done.stderr
    probe, bomb = done.stdout.splitlines()
    assert probe.startswith("""passed ["65534 ['dev', """), probe
    assert not any(f"'{name}'" in probe for name in ("etc", "home", "root", "run", "work", "var"))
    assert "userns" in probe and "cgroup-pids" not in probe
    assert bomb.startswith("passed ['6']")  # the cap of 8 counts bwrap's PID 1 and the bootstrap


def test_a_pass_needs_the_token_from_the_process_that_started_the_harness():
    # A forked copy runs the rest of the program to its end; the original waits and exits 0.
    copy_finishes = (
        "import os, posix\n"
        "pid = posix.fork()\n"
        "if pid:\n"
        "    posix.waitpid(pid, 0)\n"
        "    os._exit(0)\n"
        "print('copy finished', flush=True)\n"
    )
    result = run_program(copy_finishes)
    assert (result.status, result.returncode) == ("incomplete", 0)
    assert "copy finished" in result.stdout
    # Replacing the functions the harness uses to write the token changes nothing.
    patched = "import os\nos.getpid = lambda: 2\nos.write = lambda fd, data: len(data)\n"
    assert run_program(patched).status == "passed"
    assert run_program(patched + "os._exit(0)\n").status == "incomplete"


def test_ensure_available_warns_once_about_what_it_cannot_enforce(monkeypatch, caplog):
    from nemo_evaluator.sandbox import ensure_available, runner

    monkeypatch.setattr(runner, "_available", set())
    with caplog.at_level("WARNING", logger="nemo_evaluator.sandbox.runner"):
        ensure_available()
        assert caplog.messages == [] or all("pids cgroup" in m for m in caplog.messages)
        caplog.clear()
        ensure_available(SandboxLimits(isolation="unsafe"))
        ensure_available(SandboxLimits(isolation="unsafe"))  # checked once per mode
    unsafe = [m for m in caplog.messages if "unsafe:" in m]
    assert len(unsafe) == 1 and "host's files" in unsafe[0]
