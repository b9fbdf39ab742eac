"""Launcher rules that must hold: ambiguous id prefixes are refused, literal keys are masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from nv_eval.config import masked
from nv_eval.errors import UnknownIdError
from nv_eval.store import Store


def test_an_ambiguous_prefix_is_refused_and_a_unique_one_resolves(nv_home: Path) -> None:
    with Store() as store:
        made: dict[str, list[str]] = {}
        while not any(len(ids) > 1 for ids in made.values()):  # two ids with one first digit
            inv, _ = store.create_invocation(executor="local", output_dir="o", config={}, tasks=[])
            made.setdefault(inv.id[0], []).append(inv.id)
        first, ids = next((k, v) for k, v in made.items() if len(v) > 1)
        with pytest.raises(UnknownIdError, match=f"'{first}' is ambiguous"):
            store.resolve(first)
        assert store.resolve(ids[0])[0].id == ids[0]
        assert store.resolve(ids[0][:8])[0].id == ids[0]


def test_masked_hides_a_literal_key_and_leaves_the_input_alone() -> None:
    data = {"target": {"api_endpoint": {"url": "http://h", "api_key": "sk-literal"}}}
    out = masked(data)
    assert out["target"]["api_endpoint"]["api_key"] == "***"
    assert data["target"]["api_endpoint"]["api_key"] == "sk-literal"
    assert "sk-literal" not in repr(out)
    assert masked({"target": {"api_endpoint": {"api_key": ""}}})["target"]["api_endpoint"] == {
        "api_key": ""
    }
    assert masked({}) == {}


def test_status_progress_of_a_per_subject_limit_is_documents_over_documents(
    tmp_path: Path,
) -> None:
    """MMLU with ``limit_samples: 2`` plans 2 documents in each of 57 subjects: 114 in all."""
    from nemo_evaluator.core.journal import JOURNAL_NAME, Journal
    from nv_eval.launcher import progress
    from nv_eval.store import JobRecord

    job = JobRecord(
        id="i.0", invocation_id="i", idx=0, task="mmlu", state="running",
        job_dir=str(tmp_path), output_dir=str(tmp_path / "results"),
    )  # fmt: skip
    assert progress(job) == (0, None)  # the job has not written its journal yet
    with Journal(
        tmp_path / "results" / JOURNAL_NAME, settings={}, planned=114, flush_every=1
    ).open() as j:
        for i in range(113):
            j.append({"doc_id": f"subject_{i // 2}/{i % 2}", "error": None})
        assert progress(job) == (113, 114)
        j.append({"doc_id": "subject_56/1", "error": None})
    assert progress(job) == (114, 114)


def test_a_job_file_reads_back_as_written_and_old_files_get_the_defaults(tmp_path: Path) -> None:
    import json

    from nv_eval.job import JOB_FILE, JobFile

    job = JobFile(
        job_id="abc.1",
        task="gsm8k",
        executor="slurm",
        target={"api_endpoint": {"url": "http://127.0.0.1:1/v1/completions"}},
        config={"type": "gsm8k", "output_dir": "results"},
        exporters=[{"type": "local"}],
        launcher_config={"target": {"api_endpoint": {"api_key": "***"}}},
    )
    path = tmp_path / JOB_FILE
    path.write_text(job.dumps(), encoding="utf-8")
    assert JobFile.load(path) == job
    minimal = {k: json.loads(job.dumps())[k] for k in ("job_id", "task", "target", "config")}
    path.write_text(json.dumps(minimal), encoding="utf-8")
    old = JobFile.load(path)
    assert (old.executor, old.deployment, old.exporters, old.launcher_config) == ("", None, [], {})
