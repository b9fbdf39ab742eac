"""No lost or unreadable results: file modes, unwritable output dirs, a full disk, error stops."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from shared_data import MISSING

from nemo_evaluator.core.errors import TooManyErrorsError
from nemo_evaluator.core.evaluate import evaluate
from nemo_evaluator.core.journal import read_journal

pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")
CLI = str(Path(__file__).parent / "evalcore_cli.py")
OUTPUTS = ("results.json", "results.yml", "samples.jsonl", "run_config.json", "report.html")


def _target(gsm8k_upstream) -> dict:
    return {"api_endpoint": {"url": gsm8k_upstream.completions_url, "model_id": "stub-model"}}


def _config(out: Path, n: int = 6, **params) -> dict:
    extra = {"quiet": True, **params.pop("extra", {})}
    return {
        "type": "tiny_gsm8k",
        "output_dir": str(out),
        "params": {"limit_samples": n, "max_retries": 0, "extra": extra, **params},
    }


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_result_files_honour_the_umask(
    gsm8k_upstream, tmp_path: Path, umask: int, mode: int
) -> None:
    old = os.umask(umask)
    try:
        evaluate(_target(gsm8k_upstream), _config(tmp_path / "o", 2))
    finally:
        os.umask(old)
    for name in (*OUTPUTS, "journal.jsonl"):
        assert stat.S_IMODE((tmp_path / "o" / name).stat().st_mode) == mode, name


def _cli(gsm8k_upstream, out: Path, n: int = 6) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, CLI, "run", "--model-url", gsm8k_upstream.completions_url]
    cmd += ["--model-id", "stub-model", "--type", "tiny_gsm8k", "--output-dir", str(out)]
    cmd += ["-o", f"params.limit_samples={n}", "-o", "params.max_retries=0", "--quiet"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_output_dir_that_is_a_file_is_one_line(gsm8k_upstream, tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("not a directory")
    for out in (blocker, blocker / "sub"):
        res = _cli(gsm8k_upstream, out)
        assert res.returncode == 1
        err = res.stderr.strip()
        assert len(err.splitlines()) == 1, err
        assert str(blocker) in err and "a file is in the way" in err and "Traceback" not in err
    assert blocker.read_text() == "not a directory"
    assert gsm8k_upstream.request_count == 0


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (mounting needs root, as in CI's container)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_read_only_output_dir_is_one_line(gsm8k_upstream, small_tmpfs: Path) -> None:
    out = small_tmpfs / "run"
    out.mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    res = _cli(gsm8k_upstream, out)
    assert res.returncode == 1
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert str(out) in err and "read-only" in err and "choose a writable output_dir" in err
    assert gsm8k_upstream.request_count == 0


def test_full_disk_is_one_line_keeps_the_journal_and_resumes(
    gsm8k_upstream, small_tmpfs: Path, tmp_path: Path
) -> None:
    reference = evaluate(_target(gsm8k_upstream), _config(tmp_path / "ref", 30))
    out = small_tmpfs / "run"
    filler = small_tmpfs / "filler"
    # leave room for the journal header and a few samples, not for the whole run
    fs = os.statvfs(small_tmpfs)
    filler.write_bytes(b"\0" * (fs.f_bavail * fs.f_frsize - 12 * 1024))
    res = _cli(gsm8k_upstream, out, 30)
    assert res.returncode == 1
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert str(out) in err and "no space left" in err and "run the same command again" in err
    settings, entries = read_journal(out / "journal.jsonl")
    assert settings is not None and 0 < len(entries) < 30  # complete lines only
    assert all(e.get("outputs") for e in entries.values())
    filler.unlink()
    resumed = evaluate(_target(gsm8k_upstream), _config(out, 30))
    assert resumed.metadata.extra["counts"]["resumed_from_journal"] == len(entries)
    assert resumed.tasks == reference.tasks


def test_error_budget_stop_still_writes_samples_report_and_causes(
    gsm8k_upstream, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    gsm8k_upstream.fail(status=503, times=7, body='{"error": "model overloaded"}')
    gsm8k_upstream.reset(times=2)
    gsm8k_upstream.fail(status=503, times=1)
    with pytest.raises(TooManyErrorsError, match="completed samples are kept"):
        evaluate(_target(gsm8k_upstream), _config(tmp_path, 40, extra={"max_error_fraction": 0.05}))
    samples = [json.loads(x) for x in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert sum(1 for s in samples if s["error"]) == 3  # 2 allowed of 40, the third stops it
    assert (tmp_path / "report.html").is_file()
    assert not (tmp_path / "results.json").exists()  # a stopped run has no results
    err = capfd.readouterr().err
    assert "3 of 40 samples failed; most frequent causes:" in err
    assert "3  upstream answered HTTP 503" in err


def test_within_budget_the_causes_are_shown_too(
    gsm8k_upstream, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    gsm8k_upstream.fail(status=500, times=2)
    gsm8k_upstream.non_json(times=1)
    result = evaluate(
        _target(gsm8k_upstream), _config(tmp_path, 20, extra={"max_error_fraction": 0.2})
    )
    assert result.metadata.num_errors == 3
    err = capfd.readouterr().err
    lines = err[err.index("3 of 20 samples failed") :].splitlines()
    assert lines[1].split() == ["2", "upstream", "answered", "HTTP", "500"]
    assert lines[2].split()[:5] == ["1", "response", "is", "not", "JSON"]
