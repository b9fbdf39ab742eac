"""HellaSwag: lm-eval preprocessing on both data formats."""

from __future__ import annotations

import json
from pathlib import Path

from nemo_evaluator.benchmarks import get_benchmark
from nemo_evaluator.benchmarks.base import LoglikelihoodOutput, LoglikelihoodRequest
from nemo_evaluator.benchmarks.hellaswag import canonical_doc, preprocess
from nvidia_eval_commons.api.api_dataclasses import ConfigParams

ENDINGS0 = [
    "is using wrap to wrap a pair of skis.",
    "is ripping level tiles off.",
    "is holding a rubik's cube.",
    "starts pulling up roofing on a roof.",
]
# Validation item 0 in the canonical format (rowanz/hellaswag, HF Rowan/hellaswag).
CANONICAL0 = {
    "ind": 24,
    "activity_label": "Roof shingle removal",
    "ctx_a": "A man is sitting on a roof.",
    "ctx_b": "he",
    "ctx": "A man is sitting on a roof. he",
    "split": "val",
    "split_type": "indomain",
    "label": 3,
    "endings": ENDINGS0,
    "source_id": "activitynet~v_-JhWjGDPHMY",
}


def test_preprocess_matches_lm_eval_rules() -> None:
    raw = "Baking: [header] How to bake bread [title] Mix the flour. [step] Knead it."
    assert preprocess(raw) == "Baking: How to bake bread. Mix the flour. Knead it."
    assert preprocess("  plain text ") == "plain text"
    doc = canonical_doc(dict(CANONICAL0, ctx_b="the man Uses A saw"))
    assert doc["query"] == "Roof shingle removal: A man is sitting on a roof. The man uses a saw"


def test_derived_export_item0(shared_data: Path) -> None:
    bench = get_benchmark("hellaswag")(params=ConfigParams())
    docs = bench.load_docs()
    assert len(docs) == 10042
    assert bench.describe_dataset()["format"] == "derived"
    query = "Roof shingle removal: A man is sitting on a roof. He"
    assert docs[0]["query"] == query and docs[0]["gold"] == 3
    assert bench.build_requests(docs[0]) == [LoglikelihoodRequest(query, " " + e) for e in ENDINGS0]
    # Gold "starts pulling up roofing on a roof." (36 chars) vs "is holding a rubik's cube." (26)
    outs = [LoglikelihoodOutput(v, False) for v in (-30.0, -29.0, -20.0, -25.0)]
    score = bench.score(docs[0], outs)
    # Raw: index 2 wins (-20). Per char: -20/26 = -0.769 vs gold -25/36 = -0.694: gold wins.
    assert score.metrics == {"acc": {"acc": 0.0}, "acc_norm": {"acc_norm": 1.0}}
    # Raw: gold -25 beats -25.5; per char the longer ending 0 (37) wins: -0.689 > -0.694.
    outs = [LoglikelihoodOutput(v, False) for v in (-25.5, -40.0, -40.0, -25.0)]
    score = bench.score(docs[0], outs)
    assert score.metrics == {"acc": {"acc": 1.0}, "acc_norm": {"acc_norm": 0.0}}
    labels = [d["gold"] for d in docs]
    assert [labels.count(i) for i in range(4)] == [2515, 2485, 2584, 2458]


def test_canonical_jsonl_preferred_and_identical_for_item0(
    shared_data: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "hellaswag"
    folder.mkdir()
    (folder / "hellaswag_val.jsonl").write_text(json.dumps(CANONICAL0) + "\n", encoding="utf-8")
    # one item of the canonical file: another sha256, accepted on purpose
    extra = {"dataset_path": str(folder), "accept_modified_dataset": True}
    bench = get_benchmark("hellaswag")(params=ConfigParams(extra=extra))
    docs = bench.load_docs()
    assert bench.describe_dataset()["format"] == "canonical"
    derived = get_benchmark("hellaswag")(params=ConfigParams()).load_docs()[0]
    assert docs[0]["query"] == derived["query"]
    assert docs[0]["choices"] == derived["choices"] and docs[0]["gold"] == derived["gold"]
