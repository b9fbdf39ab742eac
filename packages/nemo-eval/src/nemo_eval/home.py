"""The cache root of nemo_eval (the default model, converted GGUF weights).

Its own module so that the default model's fetch code and the engines can both use it without
importing each other.
"""

from __future__ import annotations

import os
from pathlib import Path


def nemo_eval_home() -> Path:
    """The cache root: ``$NEMO_EVAL_HOME`` or ``~/.cache/nemo_eval``."""
    env = os.environ.get("NEMO_EVAL_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nemo_eval"


__all__ = ["nemo_eval_home"]
