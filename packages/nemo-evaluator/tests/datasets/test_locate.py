"""Where benchmark files come from: explicit path, sample, data dir, cache; offline errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nemo_evaluator.benchmarks import get_benchmark
from nemo_evaluator.datasets import (
    DatasetError,
    DatasetMismatchError,
    read_jsonl,
    resolve_source,
)
from nemo_evaluator.errors import ConfigError
from nvidia_eval_commons.api.api_dataclasses import ConfigParams


def test_data_dir_env_is_used_and_files_verified(shared_data: Path) -> None:
    src = resolve_source("gsm8k")
    assert (src.kind, src.root) == ("data_dir", shared_data / "gsm8k")
    src.path("test.jsonl")
    info = src.describe()["files"]["test.jsonl"]
    assert info["canonical"] is True
    assert info["sha256"] == "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14"


def test_dataset_path_accepts_family_folder_or_root(shared_data: Path) -> None:
    assert resolve_source("arc", extra={"dataset_path": str(shared_data / "arc")}).root == (
        shared_data / "arc"
    )
    src = resolve_source("arc", extra={"dataset_path": str(shared_data)})
    assert (src.kind, src.root) == ("dataset_path", shared_data / "arc")
    with pytest.raises(DatasetError, match="not a directory"):
        resolve_source("arc", extra={"dataset_path": str(shared_data / "nope")})


def test_sample_only_when_named(shared_data: Path) -> None:
    src = resolve_source("gsm8k", extra={"dataset": "sample"})
    assert src.kind == "sample"
    assert len(read_jsonl(src.path("test.jsonl"))) == 100
    assert src.describe()["files"]["test.jsonl"]["canonical"] is None
    with pytest.raises(ConfigError, match="only named dataset is 'sample'"):
        resolve_source("gsm8k", extra={"dataset": "full"})
    bench = get_benchmark("arc_easy")(params=ConfigParams(extra={"dataset": "sample"}))
    assert len(bench.load_docs()) == 100


def test_explicit_data_dir_argument_wins_over_env(shared_data: Path, tmp_path: Path) -> None:
    (tmp_path / "gsm8k").mkdir()
    src = resolve_source("gsm8k", data_dir=tmp_path)
    assert src.root == tmp_path / "gsm8k"
    with pytest.raises(DatasetError, match=r"missing dataset file .*test\.jsonl"):
        src.path("test.jsonl")


def test_offline_without_data_names_what_to_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("NEMO_EVALUATOR_DATA_DIR", raising=False)
    monkeypatch.setenv("NEMO_EVALUATOR_OFFLINE", "1")
    monkeypatch.setenv("NEMO_EVALUATOR_HOME", str(tmp_path))
    bench = get_benchmark("gsm8k")(params=ConfigParams())
    with pytest.raises(DatasetError) as err:
        bench.load_docs()
    message = str(err.value)
    assert "\n" not in message
    assert "NEMO_EVALUATOR_DATA_DIR" in message and "params.extra.dataset=sample" in message
    assert bench.describe_dataset()["source"] == "cache"
    assert str(tmp_path / "datasets" / "gsm8k") == bench.describe_dataset()["root"]


def _edited_copy(shared_data: Path, root: Path) -> None:
    """gsm8k with a canonical train file and a test file cut to 10 lines (another sha256)."""
    (root / "gsm8k").mkdir(parents=True)
    shutil.copy(shared_data / "gsm8k" / "train.jsonl", root / "gsm8k" / "train.jsonl")
    lines = (shared_data / "gsm8k" / "test.jsonl").read_text(encoding="utf-8").splitlines()
    (root / "gsm8k" / "test.jsonl").write_text("\n".join(lines[:10]) + "\n", encoding="utf-8")


def test_local_copy_with_other_content_is_refused(shared_data: Path, tmp_path: Path) -> None:
    _edited_copy(shared_data, tmp_path)
    bench = get_benchmark("gsm8k")(params=ConfigParams(extra={"dataset_path": str(tmp_path)}))
    with pytest.raises(DatasetMismatchError) as err:
        bench.load_docs()
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path / "gsm8k" / "test.jsonl") in message
    assert "differs from the canonical 3730d312f6e34405" in message
    assert "params.extra.accept_modified_dataset=true" in message


def test_accepted_modified_copy_is_scored_and_recorded(
    shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _edited_copy(shared_data, tmp_path)
    extra = {"dataset_path": str(tmp_path), "accept_modified_dataset": True}
    bench = get_benchmark("gsm8k")(params=ConfigParams(extra=extra))
    assert len(bench.load_docs()) == 10
    info = bench.describe_dataset()
    files = info["files"]
    assert files["test.jsonl"]["canonical"] is False and files["train.jsonl"]["canonical"] is True
    assert info["modified_accepted"] == ["test.jsonl"]
    assert "differs from the canonical" in caplog.text


def test_modified_dataset_is_refused_before_any_request_and_shown_when_accepted(
    shared_data: Path, tmp_path: Path
) -> None:
    import json

    from nemo_evaluator.core.evaluate import evaluate
    from nemo_evaluator.testing import OpenAIStubServer

    _edited_copy(shared_data, tmp_path / "data")
    with OpenAIStubServer(model="m") as upstream:
        target = {"api_endpoint": {"url": upstream.completions_url, "model_id": "m"}}
        params = {
            "limit_samples": 2,
            "extra": {"quiet": True, "dataset_path": str(tmp_path / "data")},
        }
        with pytest.raises(DatasetMismatchError):
            evaluate(
                target, {"type": "gsm8k", "output_dir": str(tmp_path / "o1"), "params": params}
            )
        assert upstream.request_count == 0
        params["extra"]["accept_modified_dataset"] = True
        evaluate(target, {"type": "gsm8k", "output_dir": str(tmp_path / "o2"), "params": params})
    meta = json.loads((tmp_path / "o2" / "results.json").read_text())["metadata"]
    assert meta["extra"]["dataset"]["modified_accepted"] == ["test.jsonl"]
    assert "Modified dataset:</b> test.jsonl" in (tmp_path / "o2" / "report.html").read_text()


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"a": \n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"x.jsonl:2: bad JSON"):
        read_jsonl(path)


def test_jsonl_lines_end_at_newline_only(tmp_path: Path) -> None:
    """JSON allows U+0085, U+2028, U+2029, form feed and the like raw inside a string; they
    do not end a line (``str.splitlines`` would cut the row there)."""
    texts = ["a\u2028b", "c\u0085d", "e\u2029f", "g\x0ch\x1ei"]
    body = "".join(json.dumps({"q": t}, ensure_ascii=False) + "\r\n" for t in texts)
    path = tmp_path / "x.jsonl"
    path.write_bytes(body.encode("utf-8"))
    assert [r["q"] for r in read_jsonl(path)] == texts


def test_jsonl_rows_read_as_json_reads_them_beyond_strict_json(tmp_path: Path) -> None:
    """Rows are parsed fast where the JSON is strict, and as Python's json reads them where
    it is not: NaN and Infinity, integers past 64 bits, an escaped lone surrogate, a
    repeated key (the last wins), -0.0 and a float at the edge of double precision."""
    lines = [
        '{"x": NaN, "y": -Infinity}',
        '{"big": 123456789012345678901234567890, "neg": -9223372036854775809}',
        '{"s": "\\ud800 alone", "t": "caf\\u00e9 \\ud83d\\ude00"}',
        '{"k": 1, "k": 2, "z": -0.0, "f": 2.2250738585072014e-308, "g": 1e400}',
        '{"plain": [1, 2.5, "three", null, true], "nested": {"a": {"b": []}}}',
    ]
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = read_jsonl(path)
    expected = [json.loads(line) for line in lines]
    assert json.dumps(rows) == json.dumps(expected)  # NaN != NaN: compare the encodings
    assert rows[1]["big"] == 123456789012345678901234567890 and rows[3]["k"] == 2
    assert str(rows[3]["z"]) == "-0.0" and rows[2]["s"] == "\ud800 alone"


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_jsonl_huge_integer_on_one_late_line_stays_exact(tmp_path: Path, suffix: str) -> None:
    """The file is checked once for a run of 19 digits; one such line anywhere keeps every
    row read as json reads it, and a file without one reads the same without the walk."""
    import gzip

    lines = ['{"n": 1.5}'] * 3 + ['{"n": 18446744073709551616}', '{"n": 999999999999999999}']
    for body, want in ((lines, [1.5] * 3 + [2**64, 10**18 - 1]), (lines[:3], [1.5] * 3)):
        raw = ("\n".join(body) + "\n").encode()
        path = tmp_path / f"x{len(body)}{suffix}"
        path.write_bytes(gzip.compress(raw) if suffix.endswith(".gz") else raw)
        got = [r["n"] for r in read_jsonl(path)]
        assert repr(got) == repr(want)
