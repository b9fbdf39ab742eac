"""lm-eval's task catalog: one ``TaskManager`` per include path, name checks and the leaf tasks
of a group, read from lm-eval's index without building (and downloading) any task.

A name is a task, a group (``mmlu``) or a tag (``ai2_arc``). Groups and tags resolve to leaf
tasks through the index's configs (includes resolved, ``!function`` left unresolved), so the
endpoint types and the datasets a run needs are known before any data is read.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import LmEvalTaskError, require_lm_eval

if TYPE_CHECKING:
    from lm_eval.tasks import TaskManager

PREFIX = "lm-eval."
"""Benchmark names of lm-eval tasks: ``lm-eval.<task>``."""
LOGLIKELIHOOD_TYPES = frozenset({"loglikelihood", "loglikelihood_rolling", "multiple_choice"})


@dataclass(frozen=True)
class LeafTask:
    """A task the run evaluates (a group's member, or the named task itself)."""

    name: str
    yaml_path: Path | None
    config: dict[str, Any]
    """The index's config: includes resolved, functions unresolved."""

    @property
    def output_type(self) -> str:
        return str(self.config.get("output_type") or "generate_until")


def include_paths(value: str | Path | Sequence[str | Path] | None) -> tuple[str, ...]:
    """``params.extra.lm_eval_include_path`` (one folder or a list) as checked absolute paths."""
    if value is None or value == "":
        return ()
    items = [value] if isinstance(value, (str, Path)) else list(value)
    out = []
    for item in items:
        path = Path(str(item)).expanduser().resolve()
        if not path.is_dir():
            raise LmEvalTaskError(
                f"lm-eval include path {path} is not a directory; point --include-path "
                "(params.extra.lm_eval_include_path) at the folder holding your task YAML files"
            )
        out.append(str(path))
    return tuple(out)


@functools.lru_cache(maxsize=8)
def task_manager(paths: tuple[str, ...] = ()) -> TaskManager:
    """lm-eval's ``TaskManager``: its own tasks when ``paths`` is empty, else only the tasks
    under ``paths`` (indexing lm-eval's thousands of YAMLs once per process is what costs)."""
    require_lm_eval()
    from lm_eval.tasks import TaskManager

    # lm-eval logs every YAML it cannot parse at WARNING; ours are checked separately
    logging.getLogger("lm_eval.tasks._index").setLevel(logging.ERROR)
    if not paths:
        return TaskManager()
    return TaskManager(include_path=list(paths), include_defaults=False)


def index(paths: tuple[str, ...] = ()) -> dict[str, Any]:
    """Name -> lm-eval index entry: the user's tasks under ``paths`` over lm-eval's own."""
    merged = dict(task_manager(()).task_index)
    for path in paths:  # later folders win, as with lm_eval --include_path
        merged.update(task_manager((path,)).task_index)
    return merged


def check_user_yaml(paths: tuple[str, ...]) -> None:
    """Parse every YAML under the include paths; a syntax error names the file and line."""
    import yaml

    class _Loader(yaml.SafeLoader):
        """Safe YAML that accepts lm-eval's ``!function`` tags without resolving them."""

    _Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    for root in paths:
        for path in sorted(Path(root).rglob("*.yaml")):
            try:
                yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
            except yaml.MarkedYAMLError as err:
                mark = err.problem_mark
                where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
                raise LmEvalTaskError(
                    f"{where}: YAML error ({err.problem}); fix the task file"
                ) from None
            except (OSError, ValueError) as err:
                raise LmEvalTaskError(f"{path}: cannot read the task file ({err})") from None


def _closest(name: str, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if not close:
        close = [n for n in names if name in n][:3]
    return (
        f"; closest: {', '.join(PREFIX + c for c in close)}"
        if close
        else "; list them with `nemo-evaluator ls --lm-eval`"
    )


@dataclass(frozen=True)
class Resolved:
    """What a name stands for: its leaf tasks and the groups above them (name -> config)."""

    name: str
    leaves: list[LeafTask]
    groups: dict[str, dict[str, Any]]

    @property
    def output_types(self) -> set[str]:
        return {leaf.output_type for leaf in self.leaves}


def resolve(name: str, paths: tuple[str, ...] = ()) -> Resolved:
    """The leaf tasks and groups of ``name``, in lm-eval's order (an unknown name: error)."""
    entries = index(paths)
    if name not in entries:
        raise LmEvalTaskError(
            f"unknown lm-eval task '{name}'{_closest(name, sorted(entries))}"
            + ("" if paths else " (custom task YAMLs need --include-path DIR)")
        )
    leaves: dict[str, LeafTask] = {}
    groups: dict[str, dict[str, Any]] = {}

    def visit(item: str, depth: int = 0) -> None:
        if depth > 32:
            raise LmEvalTaskError(f"lm-eval group '{name}' nests too deeply (a cycle?)")
        entry = entries.get(item)
        if entry is None:
            return  # an inline member; lm-eval builds it from its group's own config
        kind = entry.kind.name
        if kind == "TAG":
            for child in sorted(entry.tags):
                visit(child, depth + 1)
        elif kind == "GROUP":
            cfg = dict(entry.cfg or {})
            groups.setdefault(item, cfg)
            members = cfg.get("task") or []
            for member in members if isinstance(members, list) else [members]:
                ref = member if isinstance(member, str) else member.get("task", member.get("group"))
                if isinstance(ref, str):
                    visit(ref, depth + 1)
        elif item not in leaves:
            leaves[item] = LeafTask(item, entry.yaml_path, dict(entry.cfg or {}))

    visit(name)
    if not leaves:
        raise LmEvalTaskError(f"lm-eval name '{name}' has no tasks to run")
    return Resolved(name, list(leaves.values()), groups)


def list_tasks(pattern: str | None = None, paths: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Rows of ``nemo-evaluator ls --lm-eval [PATTERN]``: name, kind, output type."""
    rows = []
    for name, entry in sorted(index(paths).items()):
        if pattern and not fnmatch.fnmatch(name, pattern) and pattern not in name:
            continue
        cfg = entry.cfg or {}
        kind = entry.kind.name.lower().replace("py_task", "task")
        rows.append(
            {
                "name": PREFIX + name,
                "kind": kind,
                "output_type": str(cfg.get("output_type", "")) if kind == "task" else "",
            }
        )
    return rows
