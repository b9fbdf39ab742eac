"""Messages with square brackets (install hints) print as they are, not as rich markup."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nv_eval.cli import main
from nv_eval.store import Store

HINT = "mlflow is not installed: run `pip install 'nv-eval[mlflow]'`"


def test_a_failed_jobs_message_keeps_its_brackets(
    nv_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store() as store:
        inv, jobs = store.create_invocation(
            executor="local", output_dir=str(tmp_path), config={}, tasks=["gsm8k"]
        )
        store.update_job(
            jobs[0].id, state="failed", message=HINT, finished_at=time.time(), job_dir=str(tmp_path)
        )
    assert main(["status", inv.id]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the table may wrap the message
    assert "'nv-eval[mlflow]'" in out.replace("│", " ").replace("  ", " ")
