"""``nv-eval run --multirun``: Hydra's sweep syntax, one composed config per combination.

Overrides are Hydra's own (parsed by ``hydra.core.override_parser``): ``key=value``,
``+key=value`` (add), ``++key=value`` (add or set), ``~key`` (delete). With ``--multirun``
(``-m``) every sweep override (``a,b,c``, ``choice(a,b)``, ``range(1,4)``) is expanded and
each combination of their values is composed and validated on its own, as Hydra's basic
sweeper does; the combinations' jobs all belong to one invocation. Without ``--multirun`` a
comma list is one value (``config.type=gsm8k,arc_easy`` is one config with two tasks).

All combinations must share one ``execution`` section: one invocation runs on one executor.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from .config import ComposedConfig, compose_config, parse_override
from .errors import LauncherConfigError

MAX_COMBINATIONS = 1000


@dataclass(frozen=True)
class Combination:
    """One point of a sweep: its overrides and the config composed from them."""

    overrides: tuple[str, ...]
    composed: ComposedConfig


def expand(overrides: list[str]) -> list[tuple[str, ...]]:
    """Every combination of the sweep overrides' values, the plain overrides in each."""
    axes: list[list[str]] = []
    for text in overrides:
        ov = parse_override(text)
        if ov.is_sweep_override():
            if ov.is_delete():
                raise LauncherConfigError(f"cannot sweep a deletion: '{text}'")
            key = ov.get_key_element()
            axes.append([f"{key}={value}" for value in ov.sweep_string_iterator()])
        else:
            axes.append([text])
    total = 1
    for axis in axes:
        total *= len(axis)
    if total > MAX_COMBINATIONS:
        raise LauncherConfigError(
            f"the sweep has {total} combinations, more than {MAX_COMBINATIONS}; narrow its lists"
        )
    return [tuple(combo) for combo in itertools.product(*axes)]


def compose_sweep(
    *,
    config_name: str,
    config_dir: str | Path | None,
    overrides: list[str],
    executor: str | None,
) -> list[Combination]:
    """Compose and validate each combination; raises LauncherConfigError naming the bad one."""
    combos = []
    for combo in expand(overrides):
        try:
            composed = compose_config(
                config_name=config_name, config_dir=config_dir, overrides=combo, executor=executor
            )
        except LauncherConfigError as err:
            raise LauncherConfigError(f"{err} (in the combination {' '.join(combo)})") from None
        combos.append(Combination(combo, composed))
    first = combos[0].composed.data.get("execution")
    for other in combos[1:]:
        if other.composed.data.get("execution") != first:
            raise LauncherConfigError(
                "every combination of a --multirun must share one execution section; "
                f"'{' '.join(other.overrides)}' changes it: sweep execution.* in separate runs"
            )
    return combos


__all__ = ["MAX_COMBINATIONS", "Combination", "compose_sweep", "expand"]
