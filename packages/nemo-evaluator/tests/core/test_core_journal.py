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
