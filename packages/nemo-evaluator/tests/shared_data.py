"""Where the tests find the real benchmark files: ../shared/datasets beside the checkout.

``NEMO_EVALUATOR_TEST_DATA`` overrides the folder. Imported by conftest.py and test helpers.
"""

from __future__ import annotations

import os
from pathlib import Path

SHARED = Path(
    os.environ.get(
        "NEMO_EVALUATOR_TEST_DATA", str(Path(__file__).resolve().parents[4] / "shared" / "datasets")
    )
)

MISSING = (
    None
    if (SHARED / "gsm8k" / "test.jsonl").is_file()
    else f"shared datasets not found at {SHARED}; set NEMO_EVALUATOR_TEST_DATA"
)
"""Why tests that read the shared datasets must skip, or None when the files are there."""
