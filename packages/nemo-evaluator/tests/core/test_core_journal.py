from __future__ import annotations

import json

import pytest

from nemo_evaluator.core.errors import EvaluationConfigError
from nemo_evaluator.core.journal import Journal, read_journal

SETTINGS = {"task": "t", "params": {"temperature": 0.0}}


def test_append_read_back_and_later_entry_wins(tmp_path):
    path = tmp_path / "journal.jsonl"
    with Journal(path, settings=SETTINGS).open() as j:
        j.append({"doc_id": "a", "error": "boom"})
        j.append({"doc_id": "b", "error": None, "outputs": []})
        j.append({"doc_id": "a", "error": None, "outputs": []})
    settings, entries = read_journal(path)
    assert settings == SETTINGS
    assert set(entries) == {"a", "b"}
    assert entries["a"]["error"] is None
    reopened = Journal(path, settings=SETTINGS).open()
    assert reopened.done_ids() == {"a", "b"}
    reopened.close()


def test_failed_docs_are_not_done(tmp_path):
    path = tmp_path / "journal.jsonl"
    with Journal(path, settings=SETTINGS).open() as j:
        j.append({"doc_id": "x", "error": "HTTP 500"})
        assert j.done_ids() == set()


def test_torn_last_line_is_cut_before_appending(tmp_path):
    path = tmp_path / "journal.jsonl"
    with Journal(path, settings=SETTINGS).open() as j:
        j.append({"doc_id": "a", "error": None})
    with path.open("a") as fh:
        fh.write('{"kind": "sample", "doc_id": "b", "err')  # a crash mid-write
    with Journal(path, settings=SETTINGS).open() as j:
        assert j.done_ids() == {"a"}
        j.append({"doc_id": "c", "error": None})
    lines = path.read_text().splitlines()
    assert [json.loads(x).get("doc_id") for x in lines] == [None, "a", "c"]


def test_other_settings_are_refused_with_the_fix(tmp_path):
    path = tmp_path / "journal.jsonl"
    Journal(path, settings=SETTINGS).open().close()
    changed = {"task": "t", "params": {"temperature": 0.7}}
    with pytest.raises(EvaluationConfigError) as err:
        Journal(path, settings=changed).open()
    msg = str(err.value)
    assert "params.temperature: 0.0 -> 0.7" in msg
    assert "delete" in msg and str(path) in msg
    assert "\n" not in msg


def test_entries_are_read_back_by_byte_offset_across_reopen_and_non_ascii(tmp_path):
    path = tmp_path / "journal.jsonl"
    with Journal(path, settings=SETTINGS).open() as j:
        j.append({"doc_id": "a", "error": None, "raw": ["Größe 😀"]})  # multi-byte text
        j.append({"doc_id": "b", "error": "boom"})
        # read back while the writer is still open (its buffer is flushed first)
        assert j.entry("a")["raw"] == ["Größe 😀"]
    with Journal(path, settings=SETTINGS).open() as j:
        assert j.entry("b")["error"] == "boom"
        j.append({"doc_id": "b", "error": None, "raw": ["ok"]})
        j.append({"doc_id": "c", "error": None, "raw": ["ç"]})
        j.close()
        # after close the entries stay readable; the later line for "b" wins
        assert j.entry("b")["raw"] == ["ok"]
        assert j.entry("c")["raw"] == ["ç"]
        assert j.entry("a")["raw"] == ["Größe 😀"]
        assert j.entry("missing") is None
        assert "c" in j and "missing" not in j
        assert j.done_ids() == {"a", "b", "c"}


def test_progress_counts_each_document_once_against_the_last_plan(tmp_path):
    from nemo_evaluator.core.journal import read_progress

    path = tmp_path / "journal.jsonl"
    assert read_progress(path) == (0, None)  # not started yet
    # a prompt that contains the text of a sample's kind must not count as a sample
    settings = {"task": "t", "adapter": {"custom_system_prompt": '"kind": "sample"'}}
    with Journal(path, settings=settings, planned=3).open() as j:
        assert read_progress(path) == (0, 3)
        j.append({"doc_id": "a", "error": "boom"})
        j.append({"doc_id": "a", "error": None})  # a retry: still one document
        j.append({"doc_id": "b", "error": None})
    assert read_progress(path) == (2, 3)
    # compact JSON (no space after the colon) is a sample all the same; a torn tail is not
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"kind":"sample","doc_id":"c","error":null}\n{"kind":"sample","doc_id":"d"')
    assert read_progress(path) == (3, 3)  # done == planned exactly
    # a resume with a smaller limit: the new plan is the total, done never exceeds it
    Journal(path, settings=settings, planned=2).open().close()
    assert read_progress(path) == (2, 2)
    _settings, entries = read_journal(path)
    assert set(entries) == {"a", "b", "c"}
