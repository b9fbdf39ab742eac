"""``nemo-evaluator`` with the test benchmarks registered, for subprocess tests."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parent.parent)]

import evalcore_support  # noqa: F401  (registers tiny_gsm8k and tiny_arc)

from nemo_evaluator.cli import main

if __name__ == "__main__":
    sys.exit(main())
