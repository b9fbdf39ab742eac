"""Model-side speed: our deploy + evaluate over HTTP against lm-eval's ``hf`` backend in-process.

    uv run python bench/loglik_vs_lm_eval.py [--tasks arc_easy,hellaswag,mmlu,gsm8k]
        [--limit 200] [--gsm8k-limit 30] [--threads 2] [--batch-size 8]

Same weights (the converted default model directory, float32 on CPU), same items, same torch
threads, whole process on both sides: ours is ``nemo-eval deploy`` (model load included) plus
``nemo-evaluator run`` with ``parallelism`` = batch size; lm-eval 0.4.13 is ``lm_eval --model
hf --batch_size N`` in its own virtualenv (bench/lm_eval_parity.py builds it; this script adds
torch and accelerate to it) on the task YAMLs of bench/parity/. MMLU takes ``--limit``
items spread over the four subjects of the parity run; gsm8k is 5-shot, greedy.

Prints per task: items, wall seconds of each side, our speed as a multiple of lm-eval's
(lm-eval's time / ours), the CPU seconds of each side's processes (server and evaluator for
ours) and their ratio (moves less with the machine's load than wall time), and the per-item
agreement (the chosen answer for log-likelihood
tasks, the extracted answer for gsm8k). The machine's load affects both sides of a row alike
only roughly: run it on an idle machine for figures to record.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lm_eval_parity as parity

from nemo_eval.default_model import default_model_dir


def ensure_torch(venv: Path) -> None:
    """lm-eval's ``hf`` backend needs torch and accelerate; the workspace's versions."""
    from importlib import metadata

    py = venv / "bin" / "python"
    if subprocess.run([str(py), "-c", "import torch, accelerate"], check=False).returncode == 0:
        return
    pins = [f"torch=={metadata.version('torch')}", f"accelerate=={metadata.version('accelerate')}"]
    # UV_NO_CONFIG: the workspace's uv settings must not steer this venv's resolution
    env = {**os.environ, "VIRTUAL_ENV": str(venv), "UV_NO_CONFIG": "1"}
    subprocess.run(["uv", "pip", "install", "-q", *pins], check=True, env=env)


def compile_bytecode(*venvs: Path) -> None:
    """Byte-compile both sides' packages once, as ``pip install`` does (uv does not, and
    PYTHONDONTWRITEBYTECODE keeps imports from caching them): otherwise each process start
    compiles torch and transformers from source, 10-20 s per process on this machine."""
    for venv in venvs:
        marker = venv / ".bytecode-compiled"
        if marker.is_file():
            continue
        py = venv / "bin" / "python"
        sites = sorted(str(p) for p in venv.glob("lib/python3*/site-packages"))
        if venv == Path(sys.prefix):  # the workspace's own packages are installed editable
            sites += sorted(str(p) for p in parity.ROOT.glob("packages/*/src"))
        print(f"byte-compiling {venv} (once)", flush=True)
        cmd = [str(py), "-m", "compileall", "-q", "-j", "0", *sites]
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
        marker.write_text("")


def thread_env(threads: int) -> dict[str, str]:
    return {
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "NEMO_EVAL_CPU_THREADS": str(threads),
    }


def children_cpu_s() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_ours(spec: parity.TaskSpec, out: Path, limit: int, args: argparse.Namespace) -> float:
    """Server start (model load) to the end of the evaluation, like lm-eval's whole process."""
    t0 = time.monotonic()
    os.environ.update(thread_env(args.threads))
    proc, url = parity.start_server(out.with_suffix(".server.log"), extra=args.server_args)
    try:
        parity.run_ours(spec, url, out, limit, args)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return time.monotonic() - t0


def run_lm_eval_hf(
    venv: Path, spec: parity.TaskSpec, out: Path, limit: int, args: argparse.Namespace
) -> float:
    # the device goes in --device: lm-eval passes its own default beside model_args
    model_args = f"pretrained={default_model_dir()},dtype=float32"
    tasks = spec.lm_eval
    if spec.ours == "mmlu":
        tasks = ",".join(f"parity_mmlu_{s}" for s in args.mmlu_subjects)
    cmd = [str(venv / "bin" / "lm_eval"), "--model", "hf", "--model_args", model_args]
    cmd += ["--device", "cpu", "--include_path", ".", "--tasks", tasks]
    cmd += ["--batch_size", str(args.batch_size)]
    cmd += ["--limit", str(limit), "--log_samples", "--output_path", str(out)]
    env = {**parity.lm_eval_env(), **thread_env(args.threads)}
    return parity.run_timed(cmd, log=out.with_suffix(".log"), cwd=parity.PARITY, env=env)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="arc_easy,hellaswag,mmlu,gsm8k")
    ap.add_argument("--limit", type=int, default=200, help="items per log-likelihood task")
    ap.add_argument("--gsm8k-limit", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2, help="torch threads, both sides")
    ap.add_argument("--batch-size", type=int, default=8, help="lm-eval's and our server's batch")
    ap.add_argument(
        "--parallelism", type=int, default=0, help="our requests in flight (default: the batch)"
    )
    args = ap.parse_args()
    args.parallelism = args.parallelism or args.batch_size
    args.mmlu_subjects = list(parity.MMLU_SUBJECTS_DEFAULT)
    args.humaneval_max_tokens = 256
    args.server_args = ["--max-batch-size", str(args.batch_size)]
    venv = parity.lm_eval_venv()
    parity.link_inputs(venv, parity.data_dir())
    ensure_torch(venv)
    compile_bytecode(Path(sys.prefix), venv)
    work = parity.cache_dir() / "runs" / f"speed-{time.strftime('%Y%m%d-%H%M%S')}"
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"work dir {work}; torch threads {args.threads}, batch {args.batch_size}, "
        f"parallelism {args.parallelism}\n"
    )
    print(
        "| task | items | ours s | lm-eval hf s | our speed (x lm-eval) "
        "| ours CPU s | lm-eval CPU s | CPU ratio | items agreeing |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.tasks.split(","):
        spec = parity.TASKS[name]
        limit = args.gsm8k_limit if name == "gsm8k" else args.limit
        per_task = limit // len(args.mmlu_subjects) if name == "mmlu" else limit
        args.mmlu_limit = per_task
        cpu0 = children_cpu_s()
        ours_s = run_ours(spec, work / f"ours-{name}", per_task, args)
        cpu1 = children_cpu_s()
        theirs_s = run_lm_eval_hf(venv, spec, work / f"lm-eval-{name}", per_task, args)
        ours_cpu, theirs_cpu = cpu1 - cpu0, children_cpu_s() - cpu1
        _, reports = parity.compare_task(
            spec, work / f"ours-{name}", work / f"lm-eval-{name}", args
        )
        compared = sum(r.compared for r in reports)
        agree = compared - sum(max(r.response_mismatch, r.score_mismatch) for r in reports)
        items = per_task * (len(args.mmlu_subjects) if name == "mmlu" else 1)
        print(
            f"| {name} | {items} | {ours_s:.1f} | {theirs_s:.1f} | {theirs_s / ours_s:.2f} "
            f"| {ours_cpu:.1f} | {theirs_cpu:.1f} | {theirs_cpu / ours_cpu:.2f} "
            f"| {agree}/{compared} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
