"""JSON Schema of the launcher YAML, generated from the pydantic models.

``nvidia-eval-schema > launcher.schema.json`` writes it; editors use it to validate the file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from .api.launcher import LauncherConfig


def launcher_json_schema() -> dict[str, Any]:
    schema = LauncherConfig.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "nv-eval launcher configuration"
    return schema


def load_launcher_yaml(path: str | Path) -> LauncherConfig:
    """Read a launcher YAML file (no Hydra interpolation) and validate it."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        from .errors import ConfigError

        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    cfg: LauncherConfig = LauncherConfig.model_validate(data)
    return cfg


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = json.dumps(launcher_json_schema(), indent=2, sort_keys=True) + "\n"
    if args:
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
