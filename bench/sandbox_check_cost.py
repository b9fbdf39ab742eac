"""Cost of a HumanEval check in the sandbox: one process vs the candidate and harness split.

Runs the 164 canonical solutions through ``check_many`` in rounds that alternate two forms of
the same checks, in the same run (so machine load affects both alike):

* ``one-process``  lm-eval's program (prompt + completion + test + check) as one program, the
  way checks ran before the harness got its own process (its pass can be forged);
* ``split``        ``build_check``: the completion in one process, the tests in the harness,
  calls across a pipe (what the humaneval benchmark runs).

Prints checks/s and ms per check of each round, then the medians and split / one-process::

    NEMO_EVALUATOR_DATA_DIR=../shared/datasets \
        uv run python bench/sandbox_check_cost.py [--rounds 3] [--parallelism 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

from nemo_evaluator.benchmarks import get_benchmark
from nemo_evaluator.benchmarks.humaneval import build_check, build_program
from nemo_evaluator.sandbox import check_many, ensure_available
from nvidia_eval_commons.api.api_dataclasses import ConfigParams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parallelism", type=int, default=2)
    args = parser.parse_args()
    ensure_available()
    docs = get_benchmark("humaneval")(params=ConfigParams()).load_docs()
    forms = {
        "one-process": [build_program(d, d["canonical_solution"]) for d in docs],
        "split": [build_check(d, d["canonical_solution"]) for d in docs],
    }
    rates: dict[str, list[float]] = {name: [] for name in forms}
    for round_no in range(args.rounds):
        for name, programs in forms.items():
            started = time.monotonic()
            results = check_many(programs, parallelism=args.parallelism)
            elapsed = time.monotonic() - started
            passed = sum(r.passed for r in results)
            rates[name].append(len(programs) / elapsed)
            print(
                f"round {round_no + 1} {name:12s} {len(programs) / elapsed:6.1f} checks/s "
                f"{1000 * elapsed / len(programs):6.1f} ms/check  {passed}/{len(programs)} passed"
            )
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, rate in medians.items():
        print(f"median {name:12s} {rate:6.1f} checks/s  {1000 / rate:6.1f} ms/check")
    print(f"split / one-process time per check: {medians['one-process'] / medians['split']:.2f}x")


if __name__ == "__main__":
    main()
