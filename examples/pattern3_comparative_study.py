"""Pattern 3: custom pipeline integration, a comparative study of two model configurations.

The integration guide's class, changed only where this machine needs it: both "models" are the
default SmolLM2-135M-Instruct, served once by PyTriton and once by the embedded backend (the
guide: two .nemo checkpoints on PyTriton and Ray with GPUs), each benchmark runs on its bundled
sample with a small ``limit_samples`` (CPU), and ``_create_target`` and
``generate_comparison_report``, which the guide leaves to the reader, are filled in; the
report comes from ``nv_eval.comparison``.

    uv run python examples/pattern3_comparative_study.py

``EXAMPLE_PORT`` moves the first server from 8080 (the second uses the next port),
``EXAMPLE_LIMIT`` sets limit_samples (5), ``EXAMPLE_OUTPUT`` the output root ("results").
"""

import os

from nemo_eval.api import deploy
from nemo_evaluator.adapters.adapter_config import AdapterConfig
from nemo_evaluator.core.evaluate import evaluate
from nv_eval.comparison import generate_comparison_report
from nvidia_eval_commons.api.api_dataclasses import (
    ApiEndpoint,
    EvaluationConfig,
    EvaluationTarget,
)

PORT = int(os.environ.get("EXAMPLE_PORT", "8080"))
LIMIT = int(os.environ.get("EXAMPLE_LIMIT", "5"))
OUTPUT = os.environ.get("EXAMPLE_OUTPUT", "results")


class ModelEvaluationPipeline:
    def __init__(self, model_configs):
        self.model_configs = model_configs
        self.results = {}

    def evaluate_model(self, model_config):
        """Evaluate a single model configuration"""
        # Deploy model
        deploy(
            nemo_checkpoint=model_config["checkpoint"],
            serving_backend=model_config["backend"],
            server_port=model_config["port"],
            **model_config["deploy_args"],
        )

        # Configure adapters based on model type
        adapter_config = self._create_adapter_config(model_config)

        # Run evaluations
        results = {}
        for benchmark in model_config["benchmarks"]:
            eval_config = EvaluationConfig(
                type=benchmark,
                output_dir=f"{OUTPUT}/{model_config['name']}/{benchmark}",
                params={"limit_samples": LIMIT, "parallelism": 4, "extra": {"dataset": "sample"}},
            )

            result = evaluate(
                target_cfg=self._create_target(model_config),
                eval_cfg=eval_config,
                adapter_cfg=adapter_config,
            )
            results[benchmark] = result

        return results

    def _create_adapter_config(self, model_config):
        """Create adapter configuration based on model capabilities"""
        config = AdapterConfig(
            api_url=f"http://0.0.0.0:{model_config['port']}/v1/completions/",
            use_caching=True,
            caching_dir=f"{OUTPUT}/cache/{model_config['name']}",
        )

        # Enable reasoning for capable models
        if model_config.get("supports_reasoning", False):
            config.use_reasoning = True
            config.end_reasoning_token = "</think>"
            config.start_reasoning_token = "<think>"

        return config

    def _create_target(self, model_config):
        return EvaluationTarget(
            api_endpoint=ApiEndpoint(url=f"http://0.0.0.0:{model_config['port']}/v1/completions/")
        )

    def generate_comparison_report(self):
        report = generate_comparison_report(self.results)
        report.print()
        paths = report.write(f"{OUTPUT}/comparison")
        print(f"Comparison report: {paths['html']}")
        return report

    def run_comparative_study(self):
        """Run comparative evaluation across all models"""
        for model_config in self.model_configs:
            print(f"Evaluating {model_config['name']}...")
            self.results[model_config["name"]] = self.evaluate_model(model_config)

        return self.generate_comparison_report()


# Usage
pipeline = ModelEvaluationPipeline(
    [
        {
            "name": "smollm2-pytriton",
            "checkpoint": "SmolLM2-135M-Instruct",
            "backend": "pytriton",
            "port": PORT,
            "benchmarks": ["gsm8k", "hellaswag", "arc_easy"],
            "supports_reasoning": True,
            "deploy_args": {"num_gpus": 1},
        },
        {
            "name": "smollm2-embedded",
            "checkpoint": "SmolLM2-135M-Instruct",
            "backend": "embedded",
            "port": PORT + 1,
            "benchmarks": ["gsm8k", "hellaswag", "arc_easy"],
            "supports_reasoning": False,
            "deploy_args": {"num_gpus": 4, "num_replicas": 2},
        },
    ]
)

results = pipeline.run_comparative_study()
