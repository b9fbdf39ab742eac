"""The versions recorded in a run's metadata: Python and the evaluator's own distributions."""

from __future__ import annotations

import platform
from importlib import metadata


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for dist in ("nemo-evaluator", "nvidia-eval-commons"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "unknown"
    return found
