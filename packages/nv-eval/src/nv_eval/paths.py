"""Relative paths in a launcher YAML resolve against the directory ``nv-eval run`` ran from.

One rule for every path field, applied once when the config is composed, so that jobs (which
run in their own directories) and later runs of the same YAML see the same absolute paths:

- ``execution.output_dir``;
- ``target.api_endpoint.adapter_config``: ``caching_dir``, and every ``*_dir`` / ``*_path`` /
  ``*_file`` option of its ``interceptors`` (a shared cache is shared across the jobs of a run
  and across runs);
- ``config.params.extra``: ``dataset_path`` and ``data_dir``;
- ``deployment.checkpoint`` when it names an existing file or directory (a hub id such as
  ``HuggingFaceTB/SmolLM2-135M-Instruct`` stays as written);
- ``~`` is expanded everywhere, also in ``execution.slurm.ssh.identity_file``.

The exception, by design: a relative ``config.output_dir`` is inside each job's directory
(``<execution.output_dir>/<invocation>/<task>/<config.output_dir>``), so jobs never share one.
Paths are left as written for executors that do not share this machine's filesystem (Lepton,
Slurm over ssh), except ``execution.output_dir``, which is on this machine.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_SUFFIXES = ("_dir", "_path", "_file")


def _absolute(value: Any, base: Path) -> Any:
    if not isinstance(value, str) or not value or "://" in value:
        return value
    path = Path(os.path.expanduser(value))
    return str(path if path.is_absolute() else (base / path).resolve())


def _node(data: dict[str, Any], *keys: str) -> dict[str, Any] | None:
    node: Any = data
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def _resolve_keys(node: dict[str, Any] | None, base: Path, keys: tuple[str, ...] = ()) -> None:
    if node is None:
        return
    for key, value in list(node.items()):
        if key in keys or (not keys and key.endswith(_SUFFIXES)):
            node[key] = _absolute(value, base)


def shares_filesystem(data: dict[str, Any]) -> bool:
    execution = data.get("execution") or {}
    executor = execution.get("executor", "local")
    ssh = (execution.get("slurm") or {}).get("ssh")
    return executor == "local" or (executor == "slurm" and not ssh)


def resolve_paths(data: dict[str, Any], *, base: Path) -> None:
    """Make the path fields of the plain config ``data`` absolute (in place); see above."""
    execution = _node(data, "execution")
    _resolve_keys(execution, base, ("output_dir",))
    ssh = _node(data, "execution", "slurm", "ssh")
    if ssh is not None and isinstance(ssh.get("identity_file"), str):
        ssh["identity_file"] = os.path.expanduser(ssh["identity_file"])
    if not shares_filesystem(data):
        return
    adapter = _node(data, "target", "api_endpoint", "adapter_config")
    _resolve_keys(adapter, base, ("caching_dir",))
    for spec in (adapter or {}).get("interceptors") or []:
        if isinstance(spec, dict):
            _resolve_keys(_node(spec, "config"), base)
    _resolve_keys(_node(data, "config", "params", "extra"), base, ("dataset_path", "data_dir"))
    deployment = _node(data, "deployment")
    if deployment is not None and isinstance(deployment.get("checkpoint"), str):
        candidate = Path(os.path.expanduser(deployment["checkpoint"]))
        if candidate.is_absolute() or (base / candidate).exists():
            deployment["checkpoint"] = _absolute(deployment["checkpoint"], base)


__all__ = ["resolve_paths", "shares_filesystem"]
