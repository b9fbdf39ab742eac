"""Pattern 1: full stack integration (deploy, adapters, evaluate), as in the integration guide.

Changed from the guide only where this machine needs it: the checkpoint is the default model
(SmolLM2-135M-Instruct) instead of a .nemo path, and the server is stopped at the end.
On a CPU machine the GPU arguments are accepted and ignored with a warning.

    uv run python examples/pattern1_full_stack.py

``EXAMPLE_PORT`` moves the server from 8080, ``EXAMPLE_LIMIT`` sets limit_samples (50),
``EXAMPLE_OUTPUT`` the output directory ("results"), ``EXAMPLE_CACHE`` the response cache
("./cache"; a second run with another output directory is served from it). gsm8k is read from its canonical source,
or from ``NEMO_EVALUATOR_DATA_DIR`` when set.
"""

import os

from nemo_eval.api import deploy
from nemo_evaluator.adapters.adapter_config import AdapterConfig
from nemo_evaluator.core.evaluate import evaluate
from nvidia_eval_commons.api.api_dataclasses import (
    ApiEndpoint,
    EvaluationConfig,
    EvaluationTarget,
)

PORT = int(os.environ.get("EXAMPLE_PORT", "8080"))
LIMIT = int(os.environ.get("EXAMPLE_LIMIT", "50"))
OUTPUT = os.environ.get("EXAMPLE_OUTPUT", "results")
CACHE = os.environ.get("EXAMPLE_CACHE", "./cache")

# Step 1: Deploy your model
server = deploy(
    nemo_checkpoint="SmolLM2-135M-Instruct",
    serving_backend="pytriton",
    server_port=PORT,
    num_gpus=2,
    tensor_parallelism_size=2,
    max_input_len=4096,
    max_batch_size=8,
)

# Step 2: Configure advanced evaluation with adapters
adapter_config = AdapterConfig(
    api_url=f"http://0.0.0.0:{PORT}/v1/completions/",
    use_reasoning=True,
    end_reasoning_token="</think>",
    start_reasoning_token="<think>",
    custom_system_prompt="You are a helpful assistant that thinks step by step.",
    use_caching=True,
    caching_dir=CACHE,
    use_request_logging=True,
    use_response_logging=True,
    max_logged_requests=100,
    max_logged_responses=100,
)

# Step 3: Configure evaluation target and benchmarks
api_endpoint = ApiEndpoint(
    url=f"http://0.0.0.0:{PORT}/v1/completions/",
    model_id="SmolLM2-135M-Instruct",
)

target = EvaluationTarget(api_endpoint=api_endpoint)

config = EvaluationConfig(type="gsm8k", output_dir=OUTPUT, params={"limit_samples": LIMIT})

# Step 4: Run evaluation with full adapter pipeline
try:
    results = evaluate(target_cfg=target, eval_cfg=config, adapter_cfg=adapter_config)
    print(f"Evaluation completed. Results: {results}")
finally:
    server.stop()
