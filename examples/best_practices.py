"""Best practices of the integration guide: cleanup context manager, retry wrapper, config loading.

Changed from the guide only where it leaves the implementation to the reader:
``cleanup_deployment`` stops the server that ``deploy`` returned for the config.

    uv run python examples/best_practices.py

``EXAMPLE_PORT`` moves the server from 8080; ``EXAMPLE_LIMIT`` sets limit_samples (5).
"""

import os
import time

# 1. Resource Management
# Use context managers for proper cleanup
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from omegaconf import OmegaConf

from nemo_eval.api import deploy
from nemo_evaluator.core.evaluate import evaluate
from nvidia_eval_commons.api.api_dataclasses import (
    ApiEndpoint,
    EvaluationConfig,
    EvaluationTarget,
)

PORT = int(os.environ.get("EXAMPLE_PORT", "8080"))
LIMIT = int(os.environ.get("EXAMPLE_LIMIT", "5"))
HERE = Path(__file__).parent

_deployments = {}


def cleanup_deployment(model_config):
    """Stop the server deployed for this config (here: through the handle deploy returned)."""
    handle = _deployments.pop(model_config["server_port"], None)
    if handle is not None:
        handle.stop()


@contextmanager
def evaluation_context(model_config):
    """Ensure proper resource cleanup"""
    try:
        # Deploy model
        _deployments[model_config["server_port"]] = deploy(**model_config)
        yield
    finally:
        # Cleanup resources (implementation specific)
        cleanup_deployment(model_config)


# 2. Error Handling and Retry Logic
def robust_evaluate(
    target_cfg, eval_cfg, adapter_cfg, max_retries: int = 3, retry_delay: float = 30.0
) -> Optional[dict]:
    """Evaluate with retry logic for transient failures"""

    for attempt in range(max_retries):
        try:
            return evaluate(target_cfg, eval_cfg, adapter_cfg)
        except Exception as e:
            if attempt < max_retries - 1:
                print(f"Attempt {attempt + 1} failed: {e}. Retrying in {retry_delay}s...")
                time.sleep(retry_delay)
            else:
                print(f"All {max_retries} attempts failed. Last error: {e}")
                raise

    return None


# 3. Configuration Management
def load_evaluation_config(config_path: str, overrides: list = None):
    """Load and validate evaluation configuration"""
    config = OmegaConf.load(config_path)

    if overrides:
        for override in overrides:
            OmegaConf.update(config, override, merge=True)

    # Validate required fields
    required_fields = ["target.api_endpoint.url", "config.type", "config.output_dir"]

    for field in required_fields:
        if not OmegaConf.select(config, field):
            raise ValueError(f"Required field '{field}' not found in configuration")

    return config


if __name__ == "__main__":
    # the guide's launcher file, loaded and validated (the launcher reads it the same way)
    loaded = load_evaluation_config(str(HERE / "pattern2" / "my_evaluation.yaml"))
    print(f"Loaded config for {loaded.config.type} at {loaded.target.api_endpoint.url}")
    try:
        # the guide's overrides are keys that OmegaConf.update sets to None: this clears config.type
        load_evaluation_config(str(HERE / "pattern2" / "my_evaluation.yaml"), ["config.type"])
    except ValueError as err:
        print(f"Rejected as expected: {err}")

    model_config = {"server_port": PORT, "max_batch_size": 8}
    target_cfg = EvaluationTarget(
        api_endpoint=ApiEndpoint(url=f"http://127.0.0.1:{PORT}/v1/completions/")
    )
    eval_cfg = EvaluationConfig(
        type="arc_easy",
        output_dir=os.environ.get("EXAMPLE_OUTPUT", "results/best_practices"),
        params={"limit_samples": LIMIT, "extra": {"dataset": "sample"}},
    )
    adapter_cfg = None
    with evaluation_context(model_config):
        results = robust_evaluate(target_cfg, eval_cfg, adapter_cfg, retry_delay=1.0)
    print(f"Results: {results}")
