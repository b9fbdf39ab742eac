"""``nemo-evaluator`` with the test benchmarks registered, for subprocess tests."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))  # shared_data
sys.path.insert(0, str(Path(__file__).parent))  # evalcore_support

import evalcore_support  # noqa: F401  (registers tiny_gsm8k and tiny_arc)

from nemo_evaluator.cli import main

if __name__ == "__main__":
    sys.exit(main())
