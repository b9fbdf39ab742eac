"""Compose the launcher config with Hydra and validate it once into ``LauncherConfig``.

Layers, later ones win:

1. the packaged groups ``execution/<executor>.yaml`` and ``deployment/<type>.yaml``
   (under ``nv_eval/configs``), chosen by ``--executor`` / ``execution.executor`` and
   ``deployment.type``;
2. the user's file ``<config_dir>/<config_name>.yaml``, composed by Hydra with its own
   defaults list (it may name the packaged groups too: ``- execution: slurm``);
3. overrides in Hydra's syntax, positional or with ``-o``: ``key=value``, ``+key=value``,
   ``++key=value``, ``~key``. A comma list such as ``config.type=gsm8k,hellaswag`` is taken as
   one value (one job per task); ``--multirun`` sweeps it instead (see :mod:`.sweep`).

``${oc.env:VAR}`` resolves from the environment. ``target.api_endpoint.api_key:
${oc.env:VAR}`` is kept as a reference (``api_key_env: VAR``), so each job reads the key from
its own environment. A literal ``api_key`` is taken out of the plain config too: it travels to
the jobs in the environment variable ``NV_EVAL_API_KEY`` (``ComposedConfig.secret_env``), so
no key ever lands in the store, a job file, a dry run or a log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from nvidia_eval_commons import ConfigError
from nvidia_eval_commons.api.launcher import LauncherConfig
from nvidia_eval_commons.api.plugins import ENGINES, EXECUTORS
from nvidia_eval_commons.env import env_reference

from .errors import LauncherConfigError, UnknownExecutorError, UnknownTaskError
from .paths import resolve_paths

REQUIRED_FIELDS = ("target.api_endpoint.url", "config.type", "config.output_dir")
_PACKAGED = str(Path(__file__).parent / "configs")
LITERAL_KEY_ENV = "NV_EVAL_API_KEY"
"""The variable a literal ``api_key`` reaches the jobs through."""


@dataclass(frozen=True)
class ComposedConfig:
    """The validated config, its plain form (secrets as variable names) and its tasks."""

    model: LauncherConfig
    data: dict[str, Any]
    tasks: list[str]
    secret_env: dict[str, str] = field(default_factory=dict, repr=False)
    """Variables the jobs' environment gets (a literal API key); never written anywhere."""

    @property
    def executor(self) -> str:
        return self.model.execution.executor


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _compose(config_dir: str, name: str, overrides: list[str]) -> Any:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=config_dir, version_base=None):
            return compose(
                config_name=name,
                overrides=[f"hydra.searchpath=[file://{_PACKAGED}]", *overrides],
            )
    finally:
        GlobalHydra.instance().clear()


def parse_override(text: str) -> Any:
    """One override parsed by Hydra's own parser (``hydra.core.override_parser``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        (ov,) = OverridesParser.create().parse_overrides([text])
    except Exception as err:
        raise LauncherConfigError(
            f"cannot parse override '{text}': {_one_line(err)}; write it as key=value, "
            "+key=value or ~key"
        ) from None
    return ov


def _parse_overrides(overrides: list[str]) -> list[tuple[str, str, Any]]:
    """``(kind, key, value)`` per override; kind is ``set``, ``add``, ``force`` or ``delete``."""
    parsed: list[tuple[str, str, Any]] = []
    for text in overrides:
        ov = parse_override(text)
        key = ov.key_or_group
        if ov.is_delete():
            parsed.append(("delete", key, None))
            continue
        if ov.is_sweep_override():
            value: Any = ",".join(str(v) for v in ov.sweep_string_iterator())
        else:
            value = ov.value()
        kind = "add" if ov.is_add() else "force" if ov.is_force_add() else "set"
        parsed.append((kind, key, value))
    return parsed


def _apply_overrides(cfg: Any, parsed: list[tuple[str, str, Any]]) -> None:
    from omegaconf import OmegaConf

    OmegaConf.set_struct(cfg, False)
    for kind, key, value in parsed:
        if kind == "delete":
            parent, _, leaf = key.rpartition(".")
            node = OmegaConf.select(cfg, parent) if parent else cfg
            if node is None or leaf not in node:
                raise LauncherConfigError(f"cannot delete '{key}': it is not in the config")
            del node[leaf]
            continue
        if kind == "add" and OmegaConf.select(cfg, key) is not None:
            raise LauncherConfigError(f"cannot add '{key}': it is already set; drop the '+'")
        OmegaConf.update(cfg, key, value, merge=True, force_add=True)


def _keep_env_secret(cfg: Any) -> None:
    """``api_key: ${oc.env:VAR}`` becomes ``api_key_env: VAR``: the job reads the key itself."""
    from omegaconf import OmegaConf

    node = OmegaConf.select(cfg, "target.api_endpoint", default=None)
    if node is None or "api_key" not in node:
        return
    raw = OmegaConf.to_container(node, resolve=False)  # the interpolation as written
    name = env_reference(raw.get("api_key") if isinstance(raw, dict) else None)
    if name is not None:
        if node.get("api_key_env") not in (None, name):
            raise LauncherConfigError("target.api_endpoint: give api_key or api_key_env, not both")
        del node["api_key"]
        node["api_key_env"] = name


def _take_literal_key(data: dict[str, Any]) -> dict[str, str]:
    """Move a literal ``api_key`` out of ``data`` into the jobs' environment."""
    endpoint = (data.get("target") or {}).get("api_endpoint")
    if not isinstance(endpoint, dict) or endpoint.get("api_key") in (None, ""):
        return {}
    if endpoint.get("api_key_env") is not None:
        raise LauncherConfigError("target.api_endpoint: give api_key or api_key_env, not both")
    value = str(endpoint.pop("api_key"))
    endpoint["api_key_env"] = LITERAL_KEY_ENV
    return {LITERAL_KEY_ENV: value}


def check_tasks(tasks: list[str]) -> None:
    from nemo_evaluator.benchmarks.registry import BENCHMARKS

    for task in tasks:
        if task not in BENCHMARKS:
            raise UnknownTaskError(f"config.type: {BENCHMARKS.unknown(task)}")


def _check_executor(name: str, *, where: str) -> None:
    if name not in EXECUTORS:
        raise UnknownExecutorError(f"{where}{EXECUTORS.unknown(name)}")


def _packaged_group(group: str, name: str) -> list[str]:
    """The packaged defaults of a built-in executor/deployment; none for a third-party one."""
    return [f"{group}={name}"] if (Path(_PACKAGED) / group / f"{name}.yaml").is_file() else []


def compose_config(
    *,
    config_name: str,
    config_dir: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    executor: str | None = None,
) -> ComposedConfig:
    """Compose, resolve and validate; raises LauncherConfigError with a one-line message."""
    from omegaconf import DictConfig, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    directory = Path(config_dir) if config_dir is not None else Path.cwd()
    directory = directory.expanduser().resolve()
    name = config_name.removesuffix(".yaml").removesuffix(".yml")
    if not (directory / f"{name}.yaml").is_file() and not (directory / f"{name}.yml").is_file():
        raise LauncherConfigError(
            f"config '{name}.yaml' not found in {directory}; "
            "run from its directory or pass --config-dir"
        )
    if executor is not None:
        _check_executor(executor, where="--executor: ")
    parsed = _parse_overrides(list(overrides))
    try:
        user = _compose(str(directory), name, [])
        _apply_overrides(user, parsed)
        if executor is not None:
            OmegaConf.update(user, "execution.executor", executor, force_add=True)
        chosen = OmegaConf.select(user, "execution.executor", default="local")
        _check_executor(chosen, where="execution.executor: ")
        deployment = OmegaConf.select(user, "deployment.type", default="none") or "none"
        if deployment != "none" and deployment not in ENGINES:
            raise LauncherConfigError(
                f"deployment.type: {ENGINES.unknown(deployment)} (or 'none' to skip deployment)"
            )
        base = _compose(
            _PACKAGED,
            "base",
            _packaged_group("execution", chosen) + _packaged_group("deployment", deployment),
        )
        OmegaConf.set_struct(base, False)
        # base is a DictConfig, so the merge is one too
        merged = cast(DictConfig, OmegaConf.merge(base, user))
        OmegaConf.set_struct(merged, False)
        for key in ("defaults", "hydra"):
            merged.pop(key, None)
        if (
            deployment == "none"
            and merged.get("deployment") is not None
            and OmegaConf.select(merged, "deployment.type") in (None, "none")
        ):
            merged.pop("deployment")
        _keep_env_secret(merged)
        for field in REQUIRED_FIELDS:
            if OmegaConf.select(merged, field, default=None, throw_on_missing=False) in (None, ""):
                raise LauncherConfigError(
                    f"Required field '{field}' not found in configuration; "
                    f"set it in {name}.yaml or with -o {field}=..."
                )
        data = cast("dict[str, Any]", OmegaConf.to_container(merged, resolve=True))
    except (LauncherConfigError, UnknownExecutorError):
        raise
    except OmegaConfBaseException as err:
        raise LauncherConfigError(f"cannot resolve the config: {_one_line(err)}") from None
    except Exception as err:  # Hydra's own errors (missing config, bad defaults list)
        raise LauncherConfigError(f"cannot compose '{name}': {_one_line(err)}") from None
    assert isinstance(data, dict)
    resolve_paths(data, base=Path.cwd())
    secret_env = _take_literal_key(data)
    try:
        model = LauncherConfig.model_validate(data)
    except ConfigError as err:
        raise LauncherConfigError(str(err)) from None
    tasks = model.config.task_types
    if not tasks:
        raise LauncherConfigError("config.type names no task; e.g. -o config.type=gsm8k")
    check_tasks(tasks)
    return ComposedConfig(model=model, data=data, tasks=tasks, secret_env=secret_env)


def masked(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of the plain config with any ``api_key`` value replaced by ``***``.

    ``compose_config`` already keeps literal keys out of ``data``; this is for configs that
    come from elsewhere (an older store).
    """
    import copy

    out = copy.deepcopy(data)
    endpoint = (out.get("target") or {}).get("api_endpoint") or {}
    if endpoint.get("api_key") not in (None, ""):
        endpoint["api_key"] = "***"
    return out


__all__ = [
    "LITERAL_KEY_ENV",
    "REQUIRED_FIELDS",
    "ComposedConfig",
    "check_tasks",
    "compose_config",
    "masked",
    "parse_override",
]
