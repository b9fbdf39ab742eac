"""One generic registry: a name -> a lazily imported class, extended through an entry-point group.

Every kind of plugin of the stack (benchmarks, interceptors, engines, serving backends,
executors, exporters) is one :class:`Registry`. A name resolves, in this order, to:

1. a class registered in this process with :meth:`Registry.register` (tests, notebooks);
2. a built-in, given as ``"module:attr"`` and imported only when first asked for;
3. a name a provider resolves (:meth:`Registry.add_resolver`, e.g. every ``lm-eval.<task>``);
4. an entry point of the registry's group, so a separately installed distribution adds one
   with, in its ``pyproject.toml``::

       [project.entry-points."nemo_evaluator.benchmarks"]
       my_bench = "my_package.module:MyBenchmark"

An unknown name raises the registry's :class:`UnknownNameError` subclass (a ``ConfigError``)
naming the closest valid name, every valid one and the entry-point group.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import CoreSchema, core_schema

from .errors import ConfigError

T = TypeVar("T")
C = TypeVar("C", bound=type)


class UnknownNameError(ConfigError):
    """A name that no built-in, registration, provider or entry point of a registry knows."""


class PluginLoadError(ConfigError):
    """A registered name whose class cannot be imported or is not of the registry's kind."""


@dataclass(frozen=True)
class _Resolver(Generic[T]):
    prefix: str
    resolve: Callable[[str], T] | str
    listing: Callable[[], Iterable[str]] | str | None
    usage: str

    def get(self, name: str, *, kind: str) -> T:
        fn = self.resolve
        if isinstance(fn, str):
            try:
                fn = _import(fn)
            except Exception as exc:
                raise PluginLoadError(
                    f"{kind} '{name}' needs the provider {self.resolve} of '{self.prefix}' names, "
                    f"which failed to import: {type(exc).__name__}: {exc}"
                ) from exc
        return fn(name)

    def names(self) -> Iterable[str]:
        if self.listing is None:
            return ()
        fn = _import(self.listing) if isinstance(self.listing, str) else self.listing
        return fn()


def _import(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Names of one kind of plugin.

    ``kind`` is the word used in messages (``"benchmark"``); ``group`` the entry-point group;
    ``builtins`` maps names to ``"module:attr"``; ``base`` (a class or ``"module:attr"``) is
    what every entry must subclass; ``error`` the ``UnknownNameError`` subclass to raise.
    """

    def __init__(
        self,
        kind: str,
        *,
        group: str,
        builtins: Mapping[str, str] | None = None,
        base: type | str | None = None,
        error: type[UnknownNameError] = UnknownNameError,
    ) -> None:
        self.kind = kind
        self.group = group
        self._builtins = dict(builtins or {})
        self._base = base
        self._error = error
        self._registered: dict[str, T] = {}
        self._resolvers: list[_Resolver[T]] = []

    # -- extending -------------------------------------------------------------------------

    def register(self, cls: C, *, name: str | None = None) -> C:
        """Make ``cls`` available as ``name`` (default: its ``name`` attribute) in this process.

        Usable as a class decorator. Registering a different class under a taken name is an error.
        """
        key = name if name is not None else getattr(cls, "name", None)
        if not isinstance(key, str) or not key:
            raise PluginLoadError(f"{self.kind} class {cls.__qualname__} has no 'name'")
        self._check(key, cls, where="registered")
        current = self._registered.get(key)
        if current is not None and current is not cls:
            raise PluginLoadError(f"{self.kind} name '{key}' is registered twice")
        self._registered[key] = cls  # type: ignore[assignment]
        return cls

    def unregister(self, name: str) -> None:
        """Forget a name registered with :meth:`register` (built-ins stay)."""
        self._registered.pop(name, None)

    def add_resolver(
        self,
        prefix: str,
        resolve: Callable[[str], T] | str,
        *,
        listing: Callable[[], Iterable[str]] | str | None = None,
        usage: str = "",
    ) -> None:
        """Let a provider resolve every name that starts with ``prefix`` (``"lm-eval."``).

        ``resolve(name)`` returns the entry or raises a ``ConfigError``; ``listing()`` the names
        to show in listings (leave it out when there are too many); ``usage`` how to write one
        (``"lm-eval.<task>"``) for error messages. ``resolve`` and ``listing`` may be given as
        ``"module:attr"`` so that the provider is imported only when one of its names is used.
        """
        if any(r.prefix == prefix for r in self._resolvers):
            raise PluginLoadError(f"{self.kind} prefix '{prefix}' has a resolver already")
        self._resolvers.append(_Resolver(prefix, resolve, listing, usage or f"{prefix}<name>"))

    # -- looking up ------------------------------------------------------------------------

    def _entry_points(self) -> dict[str, EntryPoint]:
        return {ep.name: ep for ep in entry_points(group=self.group)}

    def names(self, *, with_resolved: bool = True) -> list[str]:
        """Every name that can be used, sorted (resolver names only where they list them)."""
        found = set(self._registered) | set(self._builtins) | set(self._entry_points())
        if with_resolved:
            for r in self._resolvers:
                found.update(r.names())
        return sorted(found)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if name in self._registered or name in self._builtins:
            return True
        if any(name.startswith(r.prefix) for r in self._resolvers):
            return True
        return name in self._entry_points()

    def get(self, name: str) -> T:
        """The entry registered as ``name``; an unknown name raises with the valid ones."""
        if name in self._registered:
            return self._registered[name]
        if name in self._builtins:
            return self._load(name, self._builtins[name], where="built in")
        for r in self._resolvers:
            if name.startswith(r.prefix):
                return r.get(name, kind=self.kind)
        ep = self._entry_points().get(name)
        if ep is not None:
            return self._load(name, ep.value, where=f"registered by entry point ({self.group})")
        raise self.unknown(name)

    def check(self, name: str) -> str:
        """``name`` if it is known, else raise the unknown-name error (a pydantic validator)."""
        if name not in self:
            raise self.unknown(name)
        return name

    def load_all(self) -> dict[str, T]:
        """Every listed entry by name, imported (for ``ls``)."""
        return {name: self.get(name) for name in self.names()}

    def unknown(self, name: str) -> UnknownNameError:
        """The error for a name nothing knows: closest match, valid names, how to add one."""
        valid = self.names()
        close = difflib.get_close_matches(name, valid, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        shown = ", ".join(f"'{n}'" for n in valid)
        extra = "".join(f" or {r.usage}" for r in self._resolvers)
        return self._error(
            f"unknown {self.kind} '{name}'; {hint}valid: {shown}{extra} "
            f"(third-party ones register under the '{self.group}' entry point group)"
        )

    # -- internals -------------------------------------------------------------------------

    def _load(self, name: str, target: str, *, where: str) -> T:
        try:
            obj = _import(target)
        except Exception as exc:
            raise PluginLoadError(
                f"{self.kind} '{name}' is {where} as {target} but failed to import: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        self._check(name, obj, where=f"{where} as {target}")
        return obj  # type: ignore[no-any-return]

    def _check(self, name: str, obj: object, *, where: str) -> None:
        if self._base is None:
            return
        base = _import(self._base) if isinstance(self._base, str) else self._base
        if not (isinstance(obj, type) and issubclass(obj, base)):
            raise PluginLoadError(
                f"{self.kind} '{name}' ({where}) is not a subclass of {base.__qualname__}"
            )


@dataclass(frozen=True)
class RegisteredName:
    """Pydantic metadata for a ``str`` field holding a name of ``registry`` (or one in
    ``also``): ``Annotated[str, RegisteredName(EXECUTORS)]``. Checked at validation, so entry
    points installed later count; the JSON schema lists the names known when it is generated.
    """

    registry: Registry[Any]
    also: tuple[str, ...] = ()

    def check(self, name: str) -> str:
        return name if name in self.also else self.registry.check(name)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        out = dict(handler(schema))
        out["enum"] = [*self.also, *self.registry.names()]
        return out


__all__ = ["PluginLoadError", "RegisteredName", "Registry", "UnknownNameError"]
