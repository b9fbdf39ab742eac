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
