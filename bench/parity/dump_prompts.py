"""Print, as JSON lines, the requests lm-eval builds for the first N documents of a task,
without a model: ``{"doc_id", "context", "continuation" | "until"}`` per request.

Run inside lm-eval's virtualenv from bench/parity (``python dump_prompts.py TASK N``); used by
``bench/lm_eval_parity.py --prompts-only`` to compare prompts over many more documents than a
scored run can afford.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from lm_eval.tasks import TaskManager, get_task_dict


def main() -> None:
    task_name, limit = sys.argv[1], int(sys.argv[2])
    manager = TaskManager(include_path=str(Path(__file__).resolve().parent))
    task = get_task_dict([task_name], manager)[task_name]
    # As lm_eval.simple_evaluate does with its default fewshot_random_seed.
    random.seed(0)
    task.set_fewshot_seed(seed=1234)
    task.build_all_requests(limit=limit, rank=0, world_size=1)
    for inst in sorted(task.instances, key=lambda i: (i.doc_id, i.idx)):
        row = {"doc_id": inst.doc_id, "context": inst.args[0]}
        second = inst.args[1]
        if isinstance(second, str):
            row["continuation"] = second
        else:
            row["until"] = list(second.get("until", []))
        sys.stdout.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
