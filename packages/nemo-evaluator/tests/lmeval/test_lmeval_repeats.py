"""A task's ``repeats: N`` samples each document N times: distinct seeds, distinct cache
entries, recorded seeds; with ``params.repeats`` on top, every copy is still its own sample."""

from __future__ import annotations

import json
from pathlib import Path

from nemo_evaluator.core.evaluate import evaluate
from nemo_evaluator.testing import OpenAIStubServer
from nvidia_eval_commons.api.api_dataclasses import AdapterConfig

ROWS = [
    {"question": "Two plus two?", "answer": "4"},
    {"question": "Three plus one?", "answer": "4"},
]


def write_task(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "vote.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (folder / "vote.yaml").write_text(
        "task: my_vote\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data}\n"
        "test_split: test\noutput_type: generate_until\n"
        "doc_to_text: 'Q: {{question}}\\nA:'\ndoc_to_target: answer\n"
        "generation_kwargs:\n  until: ['\\n']\n  do_sample: true\n  temperature: 0.7\n"
        "repeats: 3\n"
        "filter_list:\n"
        "  - name: first\n    filter:\n      - function: take_first\n"
        "  - name: maj\n    filter:\n      - function: majority_vote\n"
        "      - function: take_first\n"
        "metric_list:\n  - metric: exact_match\n"
    )
    return folder


def by_seed(prompt: str, payload: dict) -> str:
    """Seed 0 answers wrong, every other seed right: only distinct samples outvote the first."""
    return "5" if payload.get("seed") == 0 else "4"


def run(up: OpenAIStubServer, out: Path, tasks: Path, cache: Path, **params) -> dict:
    target = {
        "api_endpoint": {"url": up.completions_url, "type": "completions", "model_id": "stub-model"}
    }
    extra = {"quiet": True, "lm_eval_include_path": str(tasks), "lm_eval_bootstrap_iters": 0}
    config = {
        "type": "lm-eval.my_vote",
        "output_dir": str(out),
        "params": {**params, "extra": extra},
    }
    adapter = AdapterConfig(use_caching=True, caching_dir=str(cache))
    evaluate(target, config, adapter)
    return json.loads((out / "results.json").read_text())


def test_task_repeats_are_distinct_seeded_samples(tmp_path: Path) -> None:
    tasks, cache = write_task(tmp_path / "tasks"), tmp_path / "cache"
    with OpenAIStubServer(model="stub-model", reply=by_seed) as up:
        first = run(up, tmp_path / "a", tasks, cache)
        bodies = [r.json for r in up.requests if r.json and "prompt" in r.json]
        sent = len(up.requests)
        again = run(up, tmp_path / "b", tasks, cache)
        assert len(up.requests) == sent  # every copy was cached under its own key
    assert len(bodies) == 3 * len(ROWS)
    for row in ROWS:
        mine = [b for b in bodies if row["question"] in b["prompt"]]
        assert sorted(b["seed"] for b in mine) == [0, 1, 2]
        assert {b["temperature"] for b in mine} == {0.7}
    scores = first["tasks"]["lm-eval.my_vote"]["metrics"]["exact_match"]["scores"]
    assert scores["first"]["value"] == 0.0  # seed 0's answer
    assert scores["maj"]["value"] == 1.0  # seeds 1 and 2 outvote it
    meta = first["metadata"]["extra"]["dataset"]["lm_eval"]["tasks"]["my_vote"]
    assert meta["repeats"] == {"n": 3, "seeds": [0, 1, 2]}
    assert again["tasks"] == first["tasks"]
    assert again["metadata"]["num_cache_hits"] == len(ROWS)


def test_params_repeats_over_task_repeats_keeps_every_copy_distinct(tmp_path: Path) -> None:
    tasks = write_task(tmp_path / "tasks")
    with OpenAIStubServer(model="stub-model", reply=by_seed) as up:
        result = run(up, tmp_path / "a", tasks, tmp_path / "cache", repeats=2, seed=10)
        bodies = [r.json for r in up.requests if r.json and "prompt" in r.json]
    assert len(bodies) == 2 * 3 * len(ROWS)
    for row in ROWS:
        seeds = [b["seed"] for b in bodies if row["question"] in b["prompt"]]
        assert sorted(seeds) == list(range(10, 16))  # 2 repeats x 3 copies, no seed twice
    metrics = result["tasks"]["lm-eval.my_vote"]["metrics"]
    assert metrics["exact_match"]["scores"]["maj"]["stats"]["count"] == 2 * len(ROWS)
    assert result["metadata"]["extra"]["repeats"]["n"] == 2
