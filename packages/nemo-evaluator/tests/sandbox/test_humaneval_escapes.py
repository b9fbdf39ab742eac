"""Model-written escapes, each a real completion scored by evaluate() through the humaneval
benchmark against a loopback stub model, are contained; the canonical solutions all pass.

Every attack completion ends with the problem's canonical solution, so it would score a pass
if the attack worked (the file was visible, the socket connected, the process survived); a
contained attack fails the check. Side effects are checked on the host as well: the
listeners the test starts accept nothing, no file appears outside the sandbox, no process
outlives its check.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sandbox_support import Listener

from nemo_evaluator.benchmarks import get_benchmark
from nemo_evaluator.core.evaluate import evaluate
from nemo_evaluator.testing import OpenAIStubServer
from nvidia_eval_commons.api.api_dataclasses import (
    ApiEndpoint,
    ConfigParams,
    EvaluationConfig,
    EvaluationTarget,
)

pytestmark = pytest.mark.usefixtures("bubblewrap", "shared_data")


@pytest.fixture
def listeners(tmp_path: Path, make_listener: Callable[[int, Any], Listener]) -> dict[str, Listener]:
    found = {
        "tcp": make_listener(socket.AF_INET, ("127.0.0.1", 0)),
        "unix": make_listener(socket.AF_UNIX, str(tmp_path / "db.sock")),
        "abstract": make_listener(socket.AF_UNIX, f"\0nemo-test-{secrets.token_hex(4)}"),
    }
    for kind in ("unix", "abstract"):  # reachable from the host: the sandbox is what stops it
        with socket.socket(socket.AF_UNIX) as probe:
            probe.connect(found[kind].address)
            probe.sendall(b"host")
    return found


@pytest.fixture
def host_process() -> Iterator[str]:
    """A host process with a secret on its command line, as ``--api-key`` would put it."""
    secret = f"sk-host-{secrets.token_hex(8)}"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", secret])
    yield secret
    proc.kill()
    proc.wait()


def _body(lines: list[str]) -> str:
    return "".join(f"    {line}\n" for line in lines)


HOST_CHECKED = ("forked daemon", "private tmp")  # their harness may finish: the host shows it


def _attacks(
    tmp_path: Path, listeners: dict[str, Listener], secret: str
) -> tuple[dict[str, str], str]:
    """(name -> attack code placed before a problem's canonical body, the daemon's marker)."""
    host_secret = tmp_path / "credentials"
    host_secret.write_text(secret)
    import nemo_evaluator

    visible = [
        str(host_secret),
        "/etc/shadow",
        "/etc/passwd",
        str(Path(__file__)),
        str(Path(nemo_evaluator.__file__)),
        str(Path.home() / ".cache"),
        "/work/shared/datasets/SOURCES.md",
    ]
    marker = f"nemo-daemon-{secrets.token_hex(4)}"
    outside = [
        str(tmp_path / "written.txt"),
        str(Path(os.__file__).with_name("evil.py")),  # the standard library
        "/program.py",
        "/etc/evil",
    ]
    shared = [f"/tmp/{marker}", f"/dev/shm/{marker}"]
    unix, abstract = listeners["unix"].address, listeners["abstract"].address
    tcp_port = listeners["tcp"].address[1]
    return {
        "host files": _body(
            [
                "import os",
                f"seen = [p for p in {visible!r} if os.path.exists(p)]",
                "assert seen, 'nothing of the host is visible'",
            ]
        ),
        "host /proc": _body(
            [
                "import os",
                "cmdlines = [open(f'/proc/{p}/cmdline', 'rb').read() for p in os.listdir('/proc')"
                " if p.isdigit()]",
                f"assert any({secret.encode()!r} in c for c in cmdlines), 'no host process'",
            ]
        ),
        "unix socket": _body(
            [
                "import socket",
                "s = socket.socket(socket.AF_UNIX)",
                f"s.connect({unix!r})",
                "s.sendall(b'leak')",
            ]
        ),
        "abstract socket": _body(
            [
                "import socket",
                "s = socket.socket(socket.AF_UNIX)",
                f"s.connect({abstract!r})",
                "s.sendall(b'leak')",
            ]
        ),
        "tcp to the host": _body(
            [
                "import _socket",
                "s = _socket.socket()",
                f"s.connect(('127.0.0.1', {tcp_port}))",
                "s.send(b'leak')",
            ]
        ),
        "write outside": _body(
            [
                f"for p in {outside!r}:",
                "    try:",
                "        open(p, 'w').write('escaped')",
                "        break",
                "    except OSError:",
                "        pass",
                "else:",
                "    raise AssertionError('no write outside the sandbox worked')",
            ]
        ),
        "private tmp": _body(
            [
                f"for p in {shared!r}:",
                "    try:",
                "        open(p, 'w').write('shared?')",
                "    except OSError:",
                "        pass",
            ]
        ),
        "forked daemon": _body(
            [
                "import posix, sys, time",
                "if posix.fork() == 0:",
                "    posix.setsid()",
                "    if posix.fork() == 0:",
                f"        posix.execv(sys.executable, [sys.executable, '-c',"
                f" 'import time; time.sleep(60)', {marker!r}])",
                "    posix._exit(0)",
                "time.sleep(0.5)",  # the daemon is running when the harness finishes
            ]
        ),
        "10 GB": _body(["buf = bytearray(10 * 1024**3)"]),
        "fork bomb": _body(
            [
                "import posix",
                "while True:",
                "    try:",
                "        posix.fork()",
                "    except OSError:",
                "        pass",
            ]
        ),
        "sys.exit(0)": _body(["import sys", "sys.exit(0)"]),
        "os._exit(0)": _body(["import os", "os._exit(0)"]),
        "SystemExit in check": _body(["raise SystemExit(0)"]),
        "killing the harness": _body(
            ["import posix, signal", "posix.kill(1, signal.SIGKILL)", "posix.kill(0, 9)"]
        ),
        "forged output": _body(
            [
                "import os, sys",
                "print('passed'); print('{\"passed\": true}'); sys.stdout.flush()",
                "for fd in range(3, 256):",
                "    try:",
                "        os.write(fd, b'0' * 32)",
                "    except OSError:",
                "        pass",
                "os._exit(0)",
            ]
        ),
    }, marker


_HEX_TOKENS = (  # every 32-hex-digit string in a process's writable memory, read with ctypes
    "import ctypes, re",
    "found = set()",
    "for line in open('/proc/self/maps'):",
    "    span, perms = line.split()[:2]",
    "    if perms.startswith('rw'):",
    "        start, end = (int(x, 16) for x in span.split('-'))",
    "        found.update(re.findall(rb'(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])',"
    " ctypes.string_at(start, end - start)))",
)


def _forgeries() -> dict[str, str]:
    """Completions that answer wrongly (``return None``) and try to score a pass anyway."""
    return {  # the first lands on HumanEval/0, whose tests compare with ==
        "always-equal result": _body(
            [
                "class Anything:",
                "    def __eq__(self, other): return True",
                "    def __ne__(self, other): return False",
                "    __lt__ = __le__ = __gt__ = __ge__ = __eq__",
                "    def __bool__(self): return True",
                "    def __hash__(self): return 0",
                "return Anything()",
            ]
        ),
        "token via gc": _body(
            [
                "import gc",
                "for f in [o for o in gc.get_objects() if getattr(o, '__closure__', None)]:",
                "    try:",
                "        values = [c.cell_contents for c in f.__closure__]",
                "    except ValueError:",
                "        continue",
                "    if any(type(v) is bytes and len(v) == 32 for v in values):",
                "        f()",  # the harness's own 'finish' writes the token and exits 0
                "return None",
            ]
        ),
        "token via inspect": _body(
            [
                "import inspect",
                "frame = inspect.currentframe()",
                "while frame is not None:",
                "    for value in list(frame.f_locals.values()):",
                "        if callable(value) and getattr(value, '__name__', '') == 'finish':",
                "            value()",
                "    frame = frame.f_back",
                "return None",
            ]
        ),
        "token via ctypes": _body(
            [
                *_HEX_TOKENS,
                "import os",
                "for token in sorted(found)[:1]:",
                "    for fd in range(3, 256):",
                "        try:",
                "            os.write(fd, token)",
                "        except OSError:",
                "            pass",
                "os._exit(0)",
            ]
        ),
        "patched output functions": _body(
            [
                "import builtins, os, sys",
                "real_exit = os._exit",
                "os._exit = sys.exit = lambda *args: real_exit(0)",
                "builtins.print = lambda *args, **kwargs: None",
                "sys.excepthook = lambda *args: real_exit(0)",
                "for module in list(sys.modules.values()):",  # the bootstrap's own functions too
                "    for name, value in list(vars(module).items()):",
                "        if callable(value) and name.lstrip('_').startswith(('send', 'finish',"
                " 'print', 'receive', 'mirror', 'out_of')):",
                "            try:",
                "                setattr(module, name, lambda *args, **kwargs: None)",
                "            except (AttributeError, TypeError):",
                "                pass",
                "return None",
            ]
        ),
        "fake sentinel and os._exit(0)": _body(
            [
                "import os",
                "line = b'0123456789abcdef0123456789abcdef\\n'",
                "os.write(1, b'passed\\n' + line)",
                "for fd in range(1, 256):",
                "    try:",
                "        os.write(fd, line.strip())",
                "    except OSError:",
                "        pass",
                "os._exit(0)",
            ]
        ),
        "the harness's fds and memory": _body(
            [
                *_HEX_TOKENS,
                "import os",
                "for pid in {os.getppid(), 1}:",  # the harness (or bwrap) above this process
                "    try:",
                "        maps = open(f'/proc/{pid}/maps').read().splitlines()",
                "        with open(f'/proc/{pid}/mem', 'rb') as mem:",
                "            for line in maps:",
                "                span, perms = line.split()[:2]",
                "                if perms.startswith('rw'):",
                "                    start, end = (int(x, 16) for x in span.split('-'))",
                "                    mem.seek(start)",
                "                    found.update(re.findall(rb'[0-9a-f]{32}', mem.read(end - start)))",
                "    except OSError:",
                "        pass",
                "    for fd in range(256):",
                "        try:",
                "            out = os.open(f'/proc/{pid}/fd/{fd}', os.O_WRONLY)",
                "        except OSError:",
                "            continue",
                "        for token in sorted(found)[:1]:",
                "            os.write(out, token)",
                "os._exit(0)",
            ]
        ),
    }


def _run(tmp_path: Path, completions: dict[str, str], *, parallelism: int) -> list[dict]:
    with OpenAIStubServer(model="stub", reply=lambda p, _: completions.get(p, "")) as upstream:
        target = EvaluationTarget(
            api_endpoint=ApiEndpoint(url=upstream.completions_url, model_id="stub")
        )
        config = EvaluationConfig(
            type="humaneval",
            output_dir=str(tmp_path / "run"),
            params={
                "limit_samples": len(completions),
                "parallelism": parallelism,
                "extra": {"quiet": True, "timeout_s": 3.0},
            },
        )
        result = evaluate(target, config)
    assert result.metadata.num_errors == 0
    lines = (tmp_path / "run" / "samples.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_every_escape_is_contained_and_scores_a_fail(tmp_path, listeners, host_process, leftovers):
    docs = get_benchmark("humaneval")(params=ConfigParams()).load_docs()
    attacks, marker = _attacks(tmp_path, listeners, host_process)
    completions = {
        doc["prompt"]: code + doc["canonical_solution"]
        for doc, code in zip(docs, attacks.values(), strict=False)
    }
    completions[docs[len(attacks)]["prompt"]] = docs[len(attacks)]["canonical_solution"]
    started = time.monotonic()
    samples = _run(tmp_path, completions, parallelism=4)
    by_doc = {s["doc_id"]: s for s in samples}
    outcome = {
        name: by_doc[doc["doc_id"]]["extracted"]["statuses"][0]
        for doc, name in zip(docs, attacks, strict=False)
    }
    contained = {k: v for k, v in outcome.items() if k not in HOST_CHECKED}
    assert all(status != "passed" for status in contained.values()), outcome
    assert [outcome[name] for name in HOST_CHECKED] == ["passed", "passed"]
    assert outcome["10 GB"] == "memory"
    assert outcome["fork bomb"] == "timeout"
    for name in ("sys.exit(0)", "os._exit(0)", "SystemExit in check", "forged output"):
        assert outcome[name] == "incomplete", (name, outcome[name])
    # The one honest completion next to the attacks still passes.
    assert by_doc[docs[len(attacks)]["doc_id"]]["extracted"]["statuses"] == ["passed"]
    assert time.monotonic() - started < 60
    # Nothing reached the host.
    assert [ln.received for ln in listeners.values()] == [[], [b"host"], [b"host"]]
    assert not (tmp_path / "written.txt").exists()
    assert not Path(f"/tmp/{marker}").exists() and not Path(f"/dev/shm/{marker}").exists()
    assert leftovers(marker) == []


def test_a_pass_cannot_be_forged_from_inside_the_candidate(tmp_path):
    docs = get_benchmark("humaneval")(params=ConfigParams()).load_docs()
    forgeries = _forgeries()
    completions = {doc["prompt"]: code for doc, code in zip(docs, forgeries.values(), strict=False)}
    samples = _run(tmp_path, completions, parallelism=4)
    by_doc = {s["doc_id"]: s["extracted"]["statuses"][0] for s in samples}
    outcome = {name: by_doc[doc["doc_id"]] for doc, name in zip(docs, forgeries, strict=False)}
    assert all(status != "passed" for status in outcome.values()), outcome
    # Ending the candidate's process early is never a pass, whatever it printed or patched.
    for name in (
        "token via ctypes",
        "fake sentinel and os._exit(0)",
        "the harness's fds and memory",
    ):
        assert outcome[name] == "incomplete", (name, outcome[name])
    assert outcome["always-equal result"] == "failed"  # only built-in data reaches the tests


def test_all_164_canonical_solutions_pass_and_a_wrong_body_fails(tmp_path):
    docs = get_benchmark("humaneval")(params=ConfigParams()).load_docs()
    assert len(docs) == 164
    completions = {doc["prompt"]: doc["canonical_solution"] for doc in docs}
    completions[docs[0]["prompt"]] = "    return None\n"
    samples = _run(tmp_path, completions, parallelism=max(4, 2 * (os.cpu_count() or 1)))
    statuses = {s["doc_id"]: s["extracted"]["statuses"][0] for s in samples}
    assert len(statuses) == 164
    failing = {k: v for k, v in statuses.items() if v != "passed"}
    assert failing == {"HumanEval/0": "failed"}


def _fake_bwrap(directory: Path, message: str) -> None:
    """A ``bwrap`` that fails the way it does on a kernel that refuses user namespaces."""
    directory.mkdir()
    script = directory / "bwrap"
    script.write_text(f"#!/bin/sh\necho {message!r} >&2\nexit 1\n")
    script.chmod(0o755)


@pytest.mark.parametrize("bwrap", ["missing", "refused"])
def test_no_sandbox_is_a_one_line_error_before_any_request(tmp_path, monkeypatch, bwrap):
    from nemo_evaluator.errors import SandboxError
    from nemo_evaluator.sandbox import runner

    bin_dir = tmp_path / "bin"
    if bwrap == "refused":
        _fake_bwrap(
            bin_dir,
            "bwrap: No permissions to create new namespace, likely because "
            "the kernel does not allow non-privileged user namespaces.",
        )
    else:
        bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))  # the real bwrap is in /usr/bin
    monkeypatch.setattr(runner, "_available", set())
    with OpenAIStubServer(model="stub") as upstream:
        target = EvaluationTarget(
            api_endpoint=ApiEndpoint(url=upstream.completions_url, model_id="stub")
        )
        config = EvaluationConfig(
            type="humaneval", output_dir=str(tmp_path / "run"), params={"limit_samples": 2}
        )
        with pytest.raises(SandboxError) as caught:
            evaluate(target, config)
        assert upstream.requests == []
    message = str(caught.value)
    assert "\n" not in message
    assert "params.extra.sandbox=unsafe" in message
    if bwrap == "missing":
        assert "apt-get install bubblewrap" in message
    else:
        assert "user namespaces" in message and "No permissions" in message
    # The explicit switch runs the same completions without isolation, on purpose.
    unsafe = EvaluationConfig(
        type="humaneval",
        output_dir=str(tmp_path / "unsafe"),
        params={"limit_samples": 2, "extra": {"sandbox": "unsafe", "quiet": True}},
    )
    with OpenAIStubServer(model="stub", reply=lambda p, _: "    return None\n") as upstream:
        result = evaluate(
            EvaluationTarget(
                api_endpoint=ApiEndpoint(url=upstream.completions_url, model_id="stub")
            ),
            unsafe,
        )
    assert result.metadata.num_errors == 0 and result.metadata.num_samples == 2
