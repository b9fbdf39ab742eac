"""The strict pydantic base model and the one-line error messages it raises."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, ValidationError
from typing_extensions import Self

from ..errors import ConfigError

_MAX_PROBLEMS = 3


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic model classes reachable from a field annotation (Optional, list, dict...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is None:
        return []
    found: list[type[BaseModel]] = []
    args = typing.get_args(annotation)
    if origin in (Union, types.UnionType, list, tuple, set, frozenset, typing.Annotated):
        for arg in args:
            found.extend(_models_in(arg))
    elif origin is dict and len(args) == 2:
        found.extend(_models_in(args[1]))
    else:
        for arg in args:
            found.extend(_models_in(arg))
    return found


def _model_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """Walk ``loc`` from ``root`` through field annotations; the model that holds the last key."""
    current: type[BaseModel] | None = root
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part)
        if field is None:
            by_alias = {f.alias: f for f in current.model_fields.values() if f.alias}
            field = by_alias.get(part)
        if field is None:
            # a union tag or a dict key: keep the current model
            continue
        models = _models_in(field.annotation)
        current = models[0] if models else None
    return current


def _where(loc: tuple[int | str, ...], prefix: str) -> str:
    parts = [prefix] if prefix else []
    for part in loc:
        if isinstance(part, int):
            if parts:
                parts[-1] = f"{parts[-1]}[{part}]"
            else:
                parts.append(f"[{part}]")
        else:
            parts.append(part)
    return ".".join(parts) or "the top level"


def _describe(root: type[BaseModel], error: Any, prefix: str) -> str:
    loc: tuple[int | str, ...] = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    # pydantic adds the union member's name (e.g. 'int', 'float') to loc; drop non-field tags
    clean: list[int | str] = []
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, str) and kind != "extra_forbidden":
            if model is None:
                continue  # a union member's tag or a key of a plain dict
            aliases = {f.alias for f in model.model_fields.values() if f.alias}
            if part not in model.model_fields and part not in aliases:
                continue
        clean.append(part)
        model = _model_at(root, tuple(clean))
    loc = tuple(clean)
    if kind == "extra_forbidden" and loc:
        key = str(loc[-1])
        holder = _model_at(root, loc[:-1])
        where = _where(loc[:-1], prefix)
        hint = ""
        if holder is not None:
            valid = sorted(holder.model_fields)
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(valid)}"
        return f"unknown key '{key}' in {where}{hint}"
    field = _where(loc, prefix)
    if kind == "missing":
        return f"missing required field '{field}'"
    if kind == "value_error" and not loc:
        return str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    value = error.get("input")
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    msg = str(error.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    return f"{field}: {msg} (got {shown})"


def config_error(root: type[BaseModel], err: ValidationError, *, prefix: str = "") -> ConfigError:
    """Turn a pydantic ValidationError into a one-line ConfigError."""
    problems: list[str] = []
    seen_fields: set[str] = set()
    for e in err.errors():
        line = _describe(root, e, prefix)
        field = line.split(":", 1)[0]
        if line in problems or (e.get("type") != "extra_forbidden" and field in seen_fields):
            continue  # one line per field: a union reports each member's failure
        seen_fields.add(field)
        problems.append(line)
    shown = "; ".join(problems[:_MAX_PROBLEMS])
    if len(problems) > _MAX_PROBLEMS:
        shown += f" (and {len(problems) - _MAX_PROBLEMS} more)"
    return ConfigError(f"invalid {root.__name__}: {shown}", problems=problems)


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors, assignments are validated,
    and validation errors are one-line ``ConfigError`` messages."""

    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        populate_by_name=True,
        use_attribute_docstrings=True,
    )

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise config_error(type(self), err) from None

    # Tell pydantic this __init__ only validates, so nested models are built by the core
    # validator (one error tree with full locations) instead of by calling __init__.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as err:
            raise config_error(cls, err) from None

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as err:
            raise config_error(type(self), err) from None
