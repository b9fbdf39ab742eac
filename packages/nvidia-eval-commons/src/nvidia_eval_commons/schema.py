"""JSON Schema of the launcher YAML, generated from the pydantic models.

``nvidia-eval-schema -o launcher.schema.json`` writes it; editors use it to validate the file.
``nvidia-eval-schema --results`` prints the schema of ``results.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from .api.launcher import LauncherConfig
from .api.results import RESULTS_SCHEMA_VERSION, EvaluationResult
from .cli_parser import quiet_on_closed_stdout


def launcher_json_schema() -> dict[str, Any]:
    schema = LauncherConfig.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "nv-eval launcher configuration"
    return schema


def results_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``results.json`` (``EvaluationResult`` in serialization form)."""
    schema = EvaluationResult.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"nemo-evaluator results.json, schema version {RESULTS_SCHEMA_VERSION}"
    return schema


def load_launcher_yaml(path: str | Path) -> LauncherConfig:
    """Read a launcher YAML file (no Hydra interpolation) and validate it."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        from .errors import ConfigError

        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    cfg: LauncherConfig = LauncherConfig.model_validate(data)
    return cfg


def _type_of(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    if "anyOf" in prop:
        return " or ".join(_type_of(p) for p in prop["anyOf"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type_of(prop.get('items', {}))}"
    if kind == "object" and "additionalProperties" in prop:
        extra = prop["additionalProperties"]
        return f"map of {_type_of(extra) if isinstance(extra, dict) else 'any'}"
    return str(kind)


def markdown_reference() -> str:
    """The configuration reference as Markdown: one table per model of the launcher file."""
    schema = launcher_json_schema()
    sections = [("LauncherConfig", schema), *sorted(schema.get("$defs", {}).items())]
    lines = [
        "# Configuration reference",
        "",
        "Generated from the JSON Schema of the launcher file "
        "(`nvidia-eval-schema --markdown`); do not edit by hand.",
        "Every section rejects unknown keys with a message that names the nearest valid key.",
        "",
    ]
    for name, model in sections:
        props = model.get("properties", {})
        if not props:
            continue
        required = set(model.get("required", []))
        lines += [f"## {name}", ""]
        if model.get("description"):
            lines += [" ".join(str(model["description"]).split()), ""]
        lines += ["| key | type | default | description |", "|---|---|---|---|"]
        for key, prop in props.items():
            if key in required:
                default = "required"
            elif "default" in prop:
                default = f"`{json.dumps(prop['default'])}`"
            else:
                default = "see its section"
            desc = " ".join(str(prop.get("description", "")).split()).replace("|", "\\|")
            kind = _type_of(prop).replace("|", "\\|")
            lines.append(f"| `{key}` | {kind} | {default} | {desc} |")
        lines.append("")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    from .cli_parser import build_cli_parser

    parser = build_cli_parser(
        prog="nvidia-eval-schema",
        description="Print the JSON Schema of the launcher YAML (or of results.json), or the "
        "configuration reference as Markdown.",
        distribution="nvidia-eval-commons",
    )
    parser.add_argument(
        "--markdown", action="store_true", help="the configuration reference as Markdown"
    )
    parser.add_argument(
        "--results",
        action="store_true",
        help="the JSON Schema of results.json instead of the launcher file's",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of stdout ('-': stdout)"
    )
    parser.add_argument("out", nargs="?", metavar="FILE", help="same as -o FILE")
    return parser


@quiet_on_closed_stdout
def main(argv: list[str] | None = None) -> int:
    """``nvidia-eval-schema [--markdown | --results] [-o FILE]``; stdout by default."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.markdown and args.results:
        parser.error("--markdown documents the launcher file; drop --results")
    if args.output and args.out and args.output != args.out:
        parser.error(f"two output files given ({args.output}, {args.out}); keep one")
    if args.markdown:
        text = markdown_reference() + "\n"
    elif args.results:
        text = json.dumps(results_json_schema(), indent=2, sort_keys=True) + "\n"
    else:
        text = json.dumps(launcher_json_schema(), indent=2, sort_keys=True) + "\n"
    target = args.output or args.out
    if target and target != "-":
        Path(target).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
