"""report.html: self-contained, escaped, prompts as sent, charts, and a table that pages,
sorts and filters in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile

import pytest

from nemo_evaluator.core.report import fmt, interval, render_report
from nemo_evaluator.core.report_samples import sample_row, split_fewshot
from nvidia_eval_commons.api.layout import entry_tree
from nvidia_eval_commons.api.results import (
    EvaluationResult,
    GroupResult,
    MetricResult,
    RunMetadata,
    Score,
    ScoreStats,
    TaskResult,
)


def result() -> EvaluationResult:
    stats = ScoreStats(count=2, mean=0.5, stderr=0.5)
    return EvaluationResult(
        tasks={
            "gsm8k": TaskResult(
                metrics={
                    "exact_match": MetricResult(
                        scores={"strict-match": Score(value=0.5, stats=stats)}
                    )
                }
            )
        },
        metadata=RunMetadata(
            task="gsm8k", model_id="m", num_samples=2, num_errors=0, duration_s=1.0
        ),
    )


SAMPLES = [
    {
        "doc_id": "0",
        "prompt": "Question: </script><script>alert(1)</script>",
        "response": "#### 18",
        "extracted": "18",
        "target": "18",
        "score": {"exact_match": {"strict-match": 1.0}},
        "error": None,
    },
    {
        "doc_id": "1",
        "prompt": "Question: two",
        "response": None,
        "extracted": None,
        "target": "3",
        "score": None,
        "error": "upstream answered HTTP 500",
    },
]


def test_report_is_self_contained_and_escapes_samples():
    page = render_report(result(), SAMPLES)
    assert not re.search(r"""(src|href)=["']?https?:""", page)
    assert "<link" not in page
    # the embedded JSON cannot close its script tag
    data = page.split('id="samples-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data)[0]["q"].startswith("Question: </script>")
    assert page.count("<script") == 2


def test_a_score_that_is_not_a_number_leaves_the_embedded_json_strict():
    """A browser's JSON.parse refuses the bare NaN and Infinity that Python's json writes: one
    such score would leave the whole table empty. They are embedded as null."""
    nan_sample = {**SAMPLES[0], "doc_id": "2", "score": {"f1": {"f1": float("nan")}}}
    inf_sample = {**SAMPLES[0], "doc_id": "3", "extracted": {"ll": [float("-inf"), -1.5]}}
    page = render_report(result(), [*SAMPLES, nan_sample, inf_sample])
    data = page.split('id="samples-data">', 1)[1].split("</script>", 1)[0]

    def refuse(word: str) -> None:
        raise AssertionError(f"{word} in the embedded JSON")

    rows = json.loads(data, parse_constant=refuse)
    assert [r["id"] for r in rows] == ["0", "1", "2", "3"]


ARC = {
    "doc_id": "7",
    "prompt": {
        "context": "Question: Which gas do plants take in?\nAnswer:",
        "continuations": [" oxygen", " carbon dioxide", " helium"],
    },
    "response": [[-1.25, True], [-2.880000000000003, False], [-25.880000000000003, False]],
    "extracted": {"acc": 0, "acc_norm": 1, "loglikelihoods": [-1.25, -2.88, -25.88]},
    "target": 1,
    "score": {"acc": {"acc": 0.0}, "acc_norm": {"acc_norm": 1.0}},
    "error": None,
}

FEWSHOT = "Question: 1+1?\nAnswer: 2\n\nQuestion: 2+2?\nAnswer: 4\n\nQuestion: 3+3?\nAnswer:"


def _dom(page_path, fragment: str = "") -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--dump-dom",
                page_path.as_uri() + fragment,
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert proc.returncode == 0, proc.stderr[-500:]
    return proc.stdout


def test_fewshot_block_is_split_from_the_question():
    question, folded, shots = split_fewshot(FEWSHOT)
    assert question == "Question: 3+3?\nAnswer:" and shots == 2
    assert folded.endswith("Answer: 4") and folded + "\n\n" + question == FEWSHOT
    # a description before the examples is folded with them, not counted as one
    _, _, shots = split_fewshot("About sums.\n\n" + FEWSHOT)
    assert shots == 2
    # code with blank lines and no answer cue stays whole (humaneval prompts)
    code = 'def f(x):\n    """Add.\n\n    >>> f(1)\n    2\n    """\n'
    assert split_fewshot(code) == (code, "", 0)
    # one block: nothing to fold; an earlier block that does not answer the cue: no fold
    assert split_fewshot("Question: 3+3?\nAnswer:") == ("Question: 3+3?\nAnswer:", "", 0)
    odd = "Question: 1?\nAnswer: 1\n\nNote: none\n\nQuestion: 3?\nAnswer:"
    assert split_fewshot(odd) == (odd, "", 0)


@pytest.mark.parametrize(
    ("example", "answers"),
    [
        ("Question: 1?\nAnswer: 1", True),
        ("Question: 1?\n  \tAnswer: 1", True),  # indented answer line
        ("Question: 1?\nAnswer:\t \r", False),  # the cue with only whitespace after it
        ("Question: 1?\nAnswer:", False),  # the cue alone, at the block's end
        ("Question: 1?\nAAnswer: 1", False),  # the cue inside a word
        ("Question: 1?\nx Answer: 1", False),  # the cue after other text
        ("Question: Answer: 1?\nAnswer:\n  Answer:x", True),  # only the last line answers
        ("Answer: 1\u2028\nQuestion: 1?", True),  # a line separator is not a line break
        ("Question: 1?\nAnswer:Answer:", True),  # the cue repeated counts as text after it
    ],
)
def test_a_fewshot_example_needs_a_line_that_answers_the_cue(example, answers):
    folded = "Question: 0?\nAnswer: 0\n\n" + example
    prompt = folded + "\n\nQuestion: 3?\nAnswer:"
    expected = ("Question: 3?\nAnswer:", folded, 2) if answers else (prompt, "", 0)
    assert split_fewshot(prompt) == expected


def test_loglikelihood_sample_marks_chosen_and_gold_by_text():
    row = sample_row(ARC)
    assert (
        row["kind"] == "choices" and row["q"] == "Question: Which gas do plants take in?\nAnswer:"
    )
    marks = [c["marks"] for c in row["choices"]]
    assert marks == [["chosen by acc"], ["chosen by acc_norm", "gold"], []]
    # the headline is acc_norm: its choice is the answer; the gold is text, not an index
    assert row["ext"] == " carbon dioxide" and row["tgt"] == " carbon dioxide"
    assert row["st"] == "correct" and row["v"] == 1.0
    assert [c["ll"] for c in row["choices"]] == [-1.25, -2.88, -25.88]
    assert [c["greedy"] for c in row["choices"]] == [True, False, False]


def test_chat_prompt_keeps_turns_and_puts_the_question_first():
    turns = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Question: 1+1?"},
        {"role": "assistant", "content": "2"},
        {"role": "user", "content": "Question: 3+3?"},
    ]
    row = sample_row({**SAMPLES[0], "prompt": turns})
    assert row["kind"] == "chat" and row["q"] == "Question: 3+3?" and row["shots"] == 1
    assert [t["role"] for t in row["turns"]] == ["system", "user", "assistant"]
    error_row = sample_row(SAMPLES[1])
    assert error_row["st"] == "error" and error_row["err"] == "upstream answered HTTP 500"


def test_numbers_are_rounded_and_intervals_clipped():
    assert fmt(-25.880000000000003) == "-25.88" and fmt(0.5) == "0.5" and fmt(1 / 3) == "0.3333"
    assert fmt(-0.00001) == "0" and fmt(None) == "-"
    score = Score(value=0.9, stats=ScoreStats(count=10, stderr=0.1))
    lo, hi = interval(score)
    assert hi == 1.0 and lo == pytest.approx(0.9 - 0.196, abs=1e-3)
    assert interval(Score(value=0.5, stats=ScoreStats(count=1))) is None
    page = render_report(result(), [ARC])
    assert "-25.880000000000003" not in page and "-25.88" in page


def _mmlu_like() -> EvaluationResult:
    def entry(value: float):
        return {
            "acc": MetricResult(
                scores={"acc": Score(value=value, stats=ScoreStats(count=4, stderr=0.1))}
            )
        }

    return EvaluationResult(
        tasks={f"mmlu_s{i}": TaskResult(metrics=entry(0.25 * i)) for i in range(3)},
        groups={
            "mmlu_stem": GroupResult(metrics=entry(0.25), subtasks=["mmlu_s0", "mmlu_s1"]),
            "mmlu_other": GroupResult(metrics=entry(0.5), subtasks=["mmlu_s2"]),
            "mmlu": GroupResult(metrics=entry(0.3), subtasks=["mmlu_stem", "mmlu_other"]),
        },
        metadata=RunMetadata(task="mmlu", model_id="m"),
    )


def test_groups_fold_into_their_parent_and_charts_show_intervals():
    res = _mmlu_like()
    assert entry_tree(res) == [
        ("mmlu", 0, 5),
        ("mmlu_stem", 1, 2),
        ("mmlu_s0", 2, 0),
        ("mmlu_s1", 2, 0),
        ("mmlu_other", 1, 1),
        ("mmlu_s2", 2, 0),
    ]
    page = render_report(res, [])
    top = page.split('<table id="metrics">', 1)[1].split("</table>", 1)[0]
    assert top.count("<tr>") == 2 and "mmlu_stem" not in top  # head + the parent only
    assert "all 6 tasks and groups" in page
    chart = page.split('<div class="charts">', 1)[1].split("</svg>", 1)[0]
    # one bar per entry down to the categories, each with its interval whisker
    assert chart.count("<rect ") == 3 and chart.count("<path ") == 3
    assert "0.3 [0.104, 0.496]" in chart


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_report(result(), [*SAMPLES, ARC]), encoding="utf-8")
    dom = _dom(page)
    # the script ran: rows were built from the embedded JSON and the count was filled in
    assert "3 of 3 samples" in dom
    assert dom.count('<tr class="row correct">') == 2 and dom.count('<tr class="row error">') == 1
    assert "upstream answered HTTP 500" in dom


@pytest.mark.slow
def test_any_number_of_samples_pages_sorts_and_filters(tmp_path):
    samples = [
        {
            **SAMPLES[0],
            "doc_id": str(i),
            "score": {"exact_match": {"strict-match": float(i % 3 == 0)}},
        }
        for i in range(5001)
    ]
    page = tmp_path / "report.html"
    page.write_text(render_report(result(), samples), encoding="utf-8")
    dom = _dom(page)
    assert "5001 of 5001 samples" in dom and "page 1 of 101" in dom
    assert dom.count('<tr class="row ') == 50
    # the view is in the address: wrong answers, sorted by doc id descending, last page
    dom = _dom(page, "#f=wrong&sort=-id&page=67")
    assert "3334 of 5001 samples" in dom and "page 67 of 67" in dom
    ids = re.findall(r'<tr class="row wrong"><td>(\d+)</td>', dom)
    # 3334 wrong rows: page 67 holds the last 34, in natural (numeric) descending order
    assert len(ids) == 34 and ids[0] == "50" and ids[-1] == "1"
    assert 'aria-sort="descending"' in dom
    # a link to one sample (nv-eval compare's) shows it alone, opened
    dom = _dom(page, "#doc=4999")
    assert "1 of 5001 samples (doc 4999 only)" in dom and dom.count('<tr class="detail">') == 1
