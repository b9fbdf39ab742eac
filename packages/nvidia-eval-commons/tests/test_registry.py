"""The generic registry: built-ins, registrations, provider prefixes and entry points."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nvidia_eval_commons import ConfigError
from nvidia_eval_commons.api.launcher import ExecutionConfig, ExporterSpec
from nvidia_eval_commons.api.plugins import ENGINES, EXECUTORS, EXPORTERS, SERVING_BACKENDS
from nvidia_eval_commons.registry import PluginLoadError, Registry, UnknownNameError
from nvidia_eval_commons.schema import launcher_json_schema


class Base:
    name = ""


class Alpha(Base):
    name = "alpha"


class Beta(Base):
    name = "beta"


def _registry(**kw: object) -> Registry[type[Base]]:
    return Registry(
        "widget",
        group="nvidia_eval_commons_test.widgets",
        builtins={"alpha": f"{__name__}:Alpha", "broken": "no_such_module_xyz:Thing"},
        base=Base,
        **kw,  # type: ignore[arg-type]
    )


def test_builtin_is_imported_on_lookup_and_unknown_names_list_the_valid_ones() -> None:
    reg = _registry()
    assert reg.get("alpha") is Alpha
    with pytest.raises(UnknownNameError, match="did you mean 'alpha'") as info:
        reg.get("alpah")
    msg = str(info.value)
    assert isinstance(info.value, ConfigError) and "\n" not in msg
    assert "valid: 'alpha', 'broken'" in msg and "nvidia_eval_commons_test.widgets" in msg


def test_a_builtin_that_fails_to_import_names_the_cause() -> None:
    with pytest.raises(PluginLoadError, match=r"'broken' is built in .*ModuleNotFoundError"):
        _registry().get("broken")


def test_register_twice_and_wrong_base_are_errors() -> None:
    reg = _registry()
    assert reg.register(Beta) is Beta and reg.register(Beta) is Beta  # same class: fine
    assert "beta" in reg and reg.get("beta") is Beta
    other = type("Beta", (Base,), {"name": "beta"})
    with pytest.raises(PluginLoadError, match="registered twice"):
        reg.register(other)
    with pytest.raises(PluginLoadError, match="not a subclass of Base"):
        reg.register(type("Gamma", (), {"name": "gamma"}))
    reg.unregister("beta")
    assert "beta" not in reg


def test_a_prefix_resolver_answers_its_names_only() -> None:
    reg = _registry()
    seen: list[str] = []

    def resolve(name: str) -> type[Base]:
        seen.append(name)
        return type(name, (Base,), {"name": name})

    reg.add_resolver("ext.", resolve, listing=lambda: ["ext.one"], usage="ext.<task>")
    assert reg.get("ext.two").name == "ext.two" and seen == ["ext.two"]
    assert "ext.anything" in reg and "ext" not in reg  # the prefix itself is not a name
    assert "ext.one" in reg.names() and "ext.one" not in reg.names(with_resolved=False)
    with pytest.raises(UnknownNameError, match=r"or ext\.<task>"):
        reg.get("nope")
    with pytest.raises(PluginLoadError, match="has a resolver already"):
        reg.add_resolver("ext.", resolve)


def make_lazy(name: str) -> type[Base]:
    return type(name, (Base,), {"name": name.upper()})


def test_a_resolver_given_by_module_path_is_imported_when_used() -> None:
    reg = _registry()
    reg.add_resolver("lazy.", f"{__name__}:make_lazy", usage="lazy.<x>")
    assert reg.get("lazy.q").name == "LAZY.Q"
    reg.add_resolver("gone.", "no_such_module_xyz:resolve")
    assert "gone.a" in reg  # membership does not import the provider
    with pytest.raises(PluginLoadError, match=r"no_such_module_xyz:resolve of 'gone\.' names"):
        reg.get("gone.a")


def test_entry_point_of_another_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "widget_dist.py").write_text(
        f"from {__name__} import Base\n\nclass Delta(Base):\n    name = 'delta'\n"
    )
    info = tmp_path / "widget_dist-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: widget-dist\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[nvidia_eval_commons_test.widgets]\ndelta = widget_dist:Delta\nalpha = widget_dist:Delta\n"
    )
    reg = _registry()
    assert "delta" not in reg
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert "delta" in reg and reg.names() == ["alpha", "broken", "delta"]
        assert reg.get("delta").__name__ == "Delta"
        assert reg.get("alpha") is Alpha  # an entry point does not shadow a built-in
    finally:
        sys.modules.pop("widget_dist", None)


def test_the_launcher_schema_takes_its_names_from_the_registries() -> None:
    defs = launcher_json_schema()["$defs"]
    assert defs["ExecutionConfig"]["properties"]["executor"]["enum"] == EXECUTORS.names()
    assert defs["DeploymentConfig"]["properties"]["type"]["enum"] == ["none", *ENGINES.names()]
    assert defs["DeploymentConfig"]["properties"]["backend"]["enum"] == SERVING_BACKENDS.names()
    assert defs["ExporterSpec"]["properties"]["type"]["enum"] == EXPORTERS.names()
    with pytest.raises(ConfigError, match=r"executor: unknown executor 'slurmm'"):
        ExecutionConfig(executor="slurmm")
    assert ExporterSpec(type="mlflow").type == "mlflow"
