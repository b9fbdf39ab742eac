"""Without the lm-eval extra: one-line errors naming the install command, and these tests
skip with the reason. lm-eval is hidden from a child interpreter (``sys.modules['lm_eval'] =
None``: imports fail, ``find_spec`` finds nothing), as in an install without the extra."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HIDE = "import sys; sys.modules['lm_eval'] = None; "
INSTALL = "pip install 'nemo-evaluator[lm-eval]'"


def child(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", HIDE + code],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def test_one_line_errors_and_the_skip_reason(tmp_path: Path) -> None:
    here = Path(__file__).parent
    run = ["run", "--model-url", "http://127.0.0.1:9/v1/completions", "--type", "lm-eval.gsm8k"]
    code = (
        "from nemo_evaluator.cli import main; from nemo_evaluator.benchmarks import get_benchmark; "
        "get_benchmark('gsm8k'); "  # the native benchmarks do not need the extra
        f"rcs = [main({[*run, '--output-dir', 'out']!r}), main(['ls', '--lm-eval'])]; "
        "print('exit codes', rcs); import pytest; sys.exit(pytest.main(["
        f"{str(here / 'test_lmeval_repeats.py')!r}, '-q', '-rs', '-p', 'no:cacheprovider']))"
    )
    proc = child(code, tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "exit codes [1, 1]" in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, proc.stderr  # one line per command
    assert all(line.startswith("error: ") and INSTALL in line for line in lines)
    assert not (tmp_path / "out" / "journal.jsonl").exists()
    assert "2 skipped" in proc.stdout and "passed" not in proc.stdout
    assert "lm-evaluation-harness is not installed" in proc.stdout
    assert "uv sync --extra lm-eval" in proc.stdout
