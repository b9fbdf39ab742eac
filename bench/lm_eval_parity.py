"""Score parity with lm-evaluation-harness: the same model, data subset and settings through
both harnesses, task score by task score and sample by sample.

    uv run python bench/lm_eval_parity.py [--limit 100] [--gsm8k-limit 50] [--tasks ...]
        [--model-url http://127.0.0.1:PORT/v1/completions] [--write-doc]

Without ``--model-url`` it starts the tier-1 server once (``nemo-eval deploy``, the default
SmolLM2-135M-Instruct, embedded backend) and stops it at the end. Both harnesses then run
against that one server on the first N documents of each task: ours with
``nemo-evaluator run --type T -o params.limit_samples=N``, lm-eval with ``lm_eval --model
local-completions --tasks parity_T --limit N --log_samples`` using the task YAMLs in
bench/parity/ (lm-eval's own task YAMLs, included, with only the data source replaced by the
files in the shared datasets folder).

lm-evaluation-harness is kept out of the workspace lock: it lives in its own virtualenv,
created once with ``uv venv`` + ``uv pip install`` under ``$NEMO_EVAL_PARITY_CACHE`` (default
``~/.cache/nemo-eval-parity``). It runs with HF_HUB_OFFLINE=1 and HF_DATASETS_OFFLINE=1; its
tokenizer (needed for log-likelihood context lengths) is the served model's own local
tokenizer directory, so nothing is fetched from a hub.

Prints a table (task, metric, ours, lm-eval, difference in points, within 1 point) and a
per-sample comparison (prompt, raw response, score) with examples of any difference;
``--write-doc`` also writes them to docs/parity.md with the command, versions, N and wall times.
Exits 1 when a score differs by more than 1 point.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARITY = ROOT / "bench" / "parity"
sys.path.insert(0, str(PARITY))

import compare  # noqa: E402  (bench/parity/compare.py)

LM_EVAL_VERSION = "0.4.13"
"""The pinned lm-evaluation-harness release compared against."""
DEFAULT_MODEL = "SmolLM2-135M-Instruct"
MMLU_SUBJECTS_DEFAULT = ("abstract_algebra", "high_school_geography", "philosophy", "virology")
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class TaskSpec:
    ours: str
    lm_eval: str
    kind: str  # "loglikelihood" or "generation"
    metrics: tuple[tuple[str, str, str], ...]
    """(our metric, our score name, lm-eval results key)."""


TASKS: dict[str, TaskSpec] = {
    "gsm8k": TaskSpec(
        "gsm8k",
        "parity_gsm8k",
        "generation",
        (
            ("exact_match", "strict-match", "exact_match,strict-match"),
            ("exact_match", "flexible-extract", "exact_match,flexible-extract"),
        ),
    ),
    "arc_easy": TaskSpec(
        "arc_easy",
        "parity_arc_easy",
        "loglikelihood",
        (("acc", "acc", "acc,none"), ("acc_norm", "acc_norm", "acc_norm,none")),
    ),
    "arc_challenge": TaskSpec(
        "arc_challenge",
        "parity_arc_challenge",
        "loglikelihood",
        (("acc", "acc", "acc,none"), ("acc_norm", "acc_norm", "acc_norm,none")),
    ),
    "hellaswag": TaskSpec(
        "hellaswag",
        "parity_hellaswag",
        "loglikelihood",
        (("acc", "acc", "acc,none"), ("acc_norm", "acc_norm", "acc_norm,none")),
    ),
    "mmlu": TaskSpec("mmlu", "parity_mmlu", "loglikelihood", (("acc", "acc", "acc,none"),)),
    "humaneval": TaskSpec(
        "humaneval", "parity_humaneval", "generation", (("pass@1", "pass@1", "pass@1,create_test"),)
    ),
}


def cache_dir() -> Path:
    env = os.environ.get("NEMO_EVAL_PARITY_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nemo-eval-parity"


def data_dir() -> Path:
    env = os.environ.get("NEMO_EVALUATOR_DATA_DIR")
    for cand in (env, ROOT.parent / "shared" / "datasets", "/work/shared/datasets"):
        if cand and (Path(cand) / "gsm8k" / "test.jsonl").is_file():
            return Path(cand).resolve()
    sys.exit("no datasets folder: set NEMO_EVALUATOR_DATA_DIR to the shared datasets directory")


def tokenizer_dir() -> Path:
    home = os.environ.get("NEMO_EVAL_HOME")
    base = Path(home).expanduser() if home else Path.home() / ".cache" / "nemo_eval"
    return base / "models" / DEFAULT_MODEL


# -- lm-eval's own virtualenv ------------------------------------------------------------------


def lm_eval_venv() -> Path:
    """Create (once) the virtualenv holding lm-eval; the tokenizer libraries are pinned to the
    workspace's versions so both harnesses tokenize alike."""
    pins = [f"lm-eval[api]=={LM_EVAL_VERSION}"]
    for dist in ("transformers", "tokenizers"):
        pins.append(f"{dist}=={metadata.version(dist)}")
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    venv = cache_dir() / f"venv-lm-eval-{LM_EVAL_VERSION}-{tag}"
    marker = venv / "parity-installed.json"
    if marker.is_file() and json.loads(marker.read_text()) == pins:
        return venv
    uv = shutil.which("uv")
    if uv is None:
        sys.exit("uv is not on PATH; install it (pip install uv) to build lm-eval's virtualenv")
    print(f"creating {venv} with {' '.join(pins)}", flush=True)
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    # UV_NO_CONFIG: the workspace's uv settings (its numpy constraint) must not steer this venv
    env = {**os.environ, "VIRTUAL_ENV": str(venv), "UV_NO_CONFIG": "1"}
    subprocess.run([uv, "pip", "install", "-q", *pins], check=True, env=env)
    marker.write_text(json.dumps(pins))
    return venv


def link_inputs(venv: Path, data: Path) -> None:
    """bench/parity/lm_eval_tasks -> the installed lm_eval/tasks; bench/parity/data -> data.
    The task YAMLs include lm-eval's YAMLs and read data files through these links."""
    found = list(venv.glob("lib/python3*/site-packages/lm_eval/tasks"))
    if not found:
        sys.exit(f"lm_eval/tasks not found in {venv}; delete the folder to reinstall")
    for name, target in (("lm_eval_tasks", found[0]), ("data", data)):
        link = PARITY / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target, target_is_directory=True)


def write_mmlu_yamls() -> None:
    """bench/parity/mmlu/parity_mmlu_<subject>.yaml for the 57 subjects (committed output)."""
    sys.path.insert(0, str(ROOT / "packages" / "nemo-evaluator" / "src"))
    from nemo_evaluator.datasets import MMLU_SUBJECTS

    out = PARITY / "mmlu"
    out.mkdir(exist_ok=True)
    for s in MMLU_SUBJECTS:
        (out / f"parity_mmlu_{s}.yaml").write_text(
            "# Generated by bench/lm_eval_parity.py --write-mmlu-yaml. lm-eval's own MMLU task;\n"
            "# only the data source differs (header CSV, 0-based answers; see parity_docs.py).\n"
            f"include: ../lm_eval_tasks/mmlu/default/mmlu_{s}.yaml\n"
            f"task: parity_mmlu_{s}\n"
            "tag: parity_mmlu_tasks\n"
            "dataset_path: csv\n"
            "dataset_name: null\n"
            "dataset_kwargs:\n"
            "  data_files:\n"
            f"    test: data/mmlu/test/{s}_test.csv\n"
            f"    dev: data/mmlu/dev/{s}_dev.csv\n"
            "  keep_default_na: false\n"
            "process_docs: !function parity_docs.mmlu_docs\n",
            encoding="utf-8",
        )
    print(f"wrote {len(MMLU_SUBJECTS)} files to {out}")


# -- the server and the two harnesses ------------------------------------------------------------


def start_server(log: Path, *, extra: list[str] | None = None) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [str(BIN / "nemo-eval"), "deploy", "--port", "0", *(extra or [])],
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"serving (\S+) at (\S+)", line)
        if m:
            return proc, m.group(2).rstrip("/") + "/v1/completions"
    proc.kill()
    sys.exit(f"nemo-eval deploy did not start; see {log}")


def run_timed(cmd: list[str], *, log: Path, **kw) -> float:
    t0 = time.monotonic()
    with log.open("w") as fh:
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False, **kw).returncode
    if rc != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        sys.exit(f"{cmd[0]} failed (exit {rc}); last lines of {log}:\n" + "\n".join(tail))
    return time.monotonic() - t0


def run_ours(spec: TaskSpec, url: str, out: Path, limit: int, args: argparse.Namespace) -> float:
    cmd = [str(BIN / "nemo-evaluator"), "run", "--model-url", url, "--model-id", DEFAULT_MODEL]
    cmd += ["--type", spec.ours, "--output-dir", str(out), "-q"]
    cmd += ["-o", f"params.limit_samples={limit}", "-o", f"params.parallelism={args.parallelism}"]
    if spec.ours == "mmlu":
        cmd += ["-o", f"params.extra.subjects=[{','.join(args.mmlu_subjects)}]"]
    if spec.ours == "humaneval":
        cmd += ["-o", f"params.max_new_tokens={args.humaneval_max_tokens}"]
    env = {**os.environ, "NEMO_EVALUATOR_DATA_DIR": str(data_dir())}
    return run_timed(cmd, log=out.with_suffix(".log"), env=env)


def lm_eval_env() -> dict[str, str]:
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HOME": str(cache_dir() / "hf"),
        "HF_ALLOW_CODE_EVAL": "1",
        "PYTHONPATH": str(PARITY),
        "TOKENIZERS_PARALLELISM": "false",
    }


def prompt_parity(venv: Path, names: list[str], args: argparse.Namespace) -> int:
    """Requests of the first N docs, ours against lm-eval's; no server needed."""
    import prompts  # bench/parity/prompts.py; imports nemo_evaluator

    n = args.prompts_only
    total_differ = 0
    print("| task | docs compared | docs whose requests differ |\n|---|---:|---:|")
    notes: list[str] = []
    for name in names:
        pairs = [(name, TASKS[name].lm_eval, {})]
        if name == "mmlu":
            pairs = [(name, f"parity_mmlu_{s}", {"subjects": [s]}) for s in args.mmlu_subjects]
        for ours_name, lm_task, extra in pairs:
            label = lm_task.removeprefix("parity_")
            ours = prompts.ours_requests(ours_name, n, data_dir(), extra)
            theirs = prompts.lm_eval_requests(venv / "bin" / "python", lm_task, n, lm_eval_env())
            compared, differ, examples = prompts.compare_prompts(label, ours, theirs)
            total_differ += differ
            notes += examples
            print(f"| {label} | {compared} | {differ} |", flush=True)
    for note in notes:
        print(note)
    return 0 if total_differ == 0 else 1


def run_lm_eval(
    venv: Path, spec: TaskSpec, url: str, out: Path, limit: int, args: argparse.Namespace
) -> float:
    model_args = (
        f"model={DEFAULT_MODEL},base_url={url},tokenizer_backend=huggingface,"
        f"tokenizer={tokenizer_dir()},num_concurrent={args.parallelism},max_retries=3"
    )
    tasks = spec.lm_eval
    if spec.ours == "mmlu":
        tasks = ",".join(f"parity_mmlu_{s}" for s in args.mmlu_subjects)
    cmd = [str(venv / "bin" / "lm_eval"), "--model", "local-completions"]
    cmd += ["--model_args", model_args, "--include_path", ".", "--tasks", tasks]
    cmd += ["--limit", str(limit), "--log_samples", "--output_path", str(out)]
    if spec.ours == "humaneval":
        cmd += [
            "--gen_kwargs",
            f"max_gen_toks={args.humaneval_max_tokens}",
            "--confirm_run_unsafe_code",
        ]
    return run_timed(cmd, log=out.with_suffix(".log"), cwd=PARITY, env=lm_eval_env())


# -- comparison ----------------------------------------------------------------------------------


def compare_task(
    spec: TaskSpec, ours_out: Path, their_out: Path, args: argparse.Namespace
) -> tuple[list[compare.Row], list[compare.SampleReport]]:
    ours = json.loads((ours_out / "results.json").read_text())
    theirs = compare.lm_eval_results(their_out)["results"]
    ours_samples = compare.read_jsonl(ours_out / "samples.jsonl")
    rows: list[compare.Row] = []
    reports: list[compare.SampleReport] = []
    if spec.ours == "mmlu":
        total = {"ours": 0.0, "theirs": 0.0, "n": 0}
        for s in args.mmlu_subjects:
            lm_task = f"parity_mmlu_{s}"
            mine = compare.ours_score(ours, f"mmlu_{s}", "acc", "acc")
            other = theirs.get(lm_task, {}).get("acc,none")
            rows.append(compare.Row(f"mmlu_{s}", "acc", mine, other))
            sub = [r for r in ours_samples if str(r["doc_id"]).startswith(f"{s}/")]
            theirs_s = compare.lm_eval_samples(their_out, lm_task)
            reports.append(compare.compare_loglikelihood(f"mmlu_{s}", sub, theirs_s, ["acc"]))
            if mine is not None and other is not None:
                n = len(sub)
                total["ours"] += mine * n
                total["theirs"] += other * n
                total["n"] += n
        n = total["n"] or 1
        rows.insert(0, compare.Row("mmlu (micro)", "acc", total["ours"] / n, total["theirs"] / n))
        return rows, reports
    entry = theirs.get(spec.lm_eval, {})
    for metric, score, key in spec.metrics:
        rows.append(
            compare.Row(
                spec.ours,
                f"{metric}/{score}" if metric != score else metric,
                compare.ours_score(ours, spec.ours, metric, score),
                entry.get(key),
            )
        )
    their_samples = compare.lm_eval_samples(their_out, spec.lm_eval)
    if spec.kind == "loglikelihood":
        names = [m for m, _, _ in spec.metrics]
        reports.append(compare.compare_loglikelihood(spec.ours, ours_samples, their_samples, names))
    elif spec.ours == "gsm8k":
        keys = {
            "strict-match": ("exact_match", "strict-match"),
            "flexible-extract": ("exact_match", "flexible-extract"),
        }
        reports.append(compare.compare_generation(spec.ours, ours_samples, their_samples, keys))
    else:
        keys = {"create_test": ("pass@1", "pass@1")}
        reports.append(compare.compare_generation(spec.ours, ours_samples, their_samples, keys))
    return rows, reports


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", default="arc_easy,arc_challenge,hellaswag,mmlu,gsm8k,humaneval")
    ap.add_argument("--limit", type=int, default=100, help="docs per log-likelihood task")
    ap.add_argument("--mmlu-limit", type=int, default=25, help="docs per MMLU subject")
    ap.add_argument(
        "--mmlu-subjects",
        default=",".join(MMLU_SUBJECTS_DEFAULT),
        help="comma-separated subjects, or 'all' for the 57",
    )
    ap.add_argument("--gsm8k-limit", type=int, default=50)
    ap.add_argument("--humaneval-limit", type=int, default=10)
    ap.add_argument("--humaneval-max-tokens", type=int, default=256)
    ap.add_argument("--parallelism", type=int, default=2, help="concurrent requests, both sides")
    ap.add_argument("--model-url", default=None, help="a running server; default: start one")
    ap.add_argument("--work-dir", default=None, help="default: <cache>/runs/<timestamp>")
    ap.add_argument("--write-doc", action="store_true", help="write docs/parity.md")
    ap.add_argument(
        "--compare-only",
        action="store_true",
        help="re-compare the runs already in --work-dir (the server is still probed)",
    )
    ap.add_argument(
        "--prompts-only",
        type=int,
        default=0,
        metavar="N",
        help="no model: compare the requests both sides build for the first N docs",
    )
    ap.add_argument("--write-mmlu-yaml", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.write_mmlu_yaml:
        write_mmlu_yamls()
        return 0
    if args.mmlu_subjects == "all":
        sys.path.insert(0, str(ROOT / "packages" / "nemo-evaluator" / "src"))
        from nemo_evaluator.datasets import MMLU_SUBJECTS

        args.mmlu_subjects = ",".join(MMLU_SUBJECTS)
    args.mmlu_subjects = [s for s in args.mmlu_subjects.split(",") if s]
    names = [t for t in args.tasks.split(",") if t]
    unknown = [t for t in names if t not in TASKS]
    if unknown:
        sys.exit(f"unknown tasks {unknown}; choose from {', '.join(TASKS)}")

    venv = lm_eval_venv()
    link_inputs(venv, data_dir())
    if args.prompts_only:
        return prompt_parity(venv, names, args)
    work = Path(args.work_dir or cache_dir() / "runs" / time.strftime("%Y%m%d-%H%M%S"))
    work.mkdir(parents=True, exist_ok=True)
    server = None
    url = args.model_url
    if url is None:
        server, url = start_server(work / "server.log")
        print(f"server: {url}", flush=True)
    limits = {"gsm8k": args.gsm8k_limit, "mmlu": args.mmlu_limit, "humaneval": args.humaneval_limit}
    rows: list[compare.Row] = []
    reports: list[compare.SampleReport] = []
    timings: list[tuple[str, int, float, float]] = []
    if not args.compare_only:
        (work / "command.txt").write_text(" ".join(sys.argv[1:]))
    saved_file = work / "timings.json"
    saved = json.loads(saved_file.read_text()) if saved_file.is_file() else {}
    try:
        for name in names:
            spec = TASKS[name]
            limit = limits.get(name, args.limit)
            ours_out, their_out = work / f"ours-{name}", work / f"lm-eval-{name}"
            if args.compare_only:
                if name not in saved:
                    sys.exit(f"{work} holds no finished run of {name}")
                limit, t_ours, t_theirs = saved[name]
                timings.append((name, limit, t_ours, t_theirs))
                r, s = compare_task(spec, ours_out, their_out, args)
                rows += r
                reports += s
                continue
            print(f"{name}: N={limit} ours ...", end=" ", flush=True)
            t_ours = run_ours(spec, url, ours_out, limit, args)
            print(f"{t_ours:.0f}s; lm-eval ...", end=" ", flush=True)
            t_theirs = run_lm_eval(venv, spec, url, their_out, limit, args)
            print(f"{t_theirs:.0f}s", flush=True)
            timings.append((name, limit, t_ours, t_theirs))
            saved[name] = (limit, t_ours, t_theirs)
            (work / "timings.json").write_text(json.dumps(saved))
            r, s = compare_task(spec, ours_out, their_out, args)
            rows += r
            reports += s
        for rep in reports:  # one request per task whose log-likelihoods differ
            if rep.ll_mismatch is not None:
                try:
                    rep.cause = compare.probe(url, DEFAULT_MODEL, *rep.ll_mismatch)
                    ok, n = compare.explain_last_token(url, DEFAULT_MODEL, rep.ll_diffs)
                    rep.cause += (
                        f"; {ok} of {n} differing log-likelihoods equal ours minus the "
                        "log-probability of the continuation's last token"
                    )
                except OSError as err:
                    rep.cause = f"probe failed: {err}"
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)

    table = compare.format_table(rows)
    samples = compare.format_samples(reports)
    print("\n" + table + "\n\n" + samples)
    for rep in reports:
        if rep.cause:
            print(f"[{rep.task}] probe: {rep.cause}")
        for ex in rep.examples:
            print(f"[{rep.task}] {ex}")
    if args.write_doc:
        write_doc(table, samples, reports, timings, args, work)
    return 0 if all(r.within for r in rows) else 1


def write_doc(table, samples, reports, timings, args, work) -> None:
    recorded = work / "command.txt"
    argv = recorded.read_text().strip() if recorded.is_file() else " ".join(sys.argv[1:])
    cmd = f"uv run python bench/lm_eval_parity.py {argv}"
    lines = [
        "## Latest run",
        "",
        f"Command: `{cmd}` (work dir `{work}`).",
        f"Versions: lm-eval {LM_EVAL_VERSION}, transformers {metadata.version('transformers')}, "
        f"tokenizers {metadata.version('tokenizers')}, Python {sys.version.split()[0]}; "
        f"model {DEFAULT_MODEL} served by `nemo-eval deploy` (embedded backend, CPU).",
        "",
        table,
        "",
        "| task | N | ours wall (s) | lm-eval wall (s) |",
        "|---|---:|---:|---:|",
        *(f"| {n} | {lim} | {a:.0f} | {b:.0f} |" for n, lim, a, b in timings),
        "",
        "Per sample:",
        "",
        samples,
        "",
    ]
    for rep in reports:
        if rep.cause:
            lines += [f"- [{rep.task}] probe of the first differing log-likelihood: {rep.cause}"]
        for ex in rep.examples:
            lines += [f"- [{rep.task}] " + ex.replace("\n", "\n  ")]
    doc = ROOT / "docs" / "parity.md"
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# lm-eval parity\n"
    head = text.split("## Latest run")[0].rstrip() + "\n\n"
    doc.write_text(head + "\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {doc}")


if __name__ == "__main__":
    sys.exit(main())
