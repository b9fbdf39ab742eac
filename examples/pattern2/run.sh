#!/usr/bin/env bash
# Pattern 2: orchestrated evaluation with the launcher, as in the integration guide.
# The YAML file is the guide's, unchanged: the default model is served under the name
# "megatron_model" on port 8080 so that the file's target needs no edit.
#   bash examples/pattern2/run.sh            (from the repository root, after `uv sync`)
# EXTRA_OVERRIDES adds -o overrides to every run (the tests use it for small limit_samples).
set -euo pipefail
cd "$(dirname "$0")"
PORT=${EXAMPLE_PORT:-8080}
read -r -a EXTRA <<< "${EXTRA_OVERRIDES:-}"
if [ "$PORT" != 8080 ]; then EXTRA+=(-o "target.api_endpoint.url=http://0.0.0.0:$PORT/v1/completions/"); fi

nemo-eval deploy --port "$PORT" --model-name megatron_model &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  curl -fsS "http://127.0.0.1:$PORT/v1/health" >/dev/null 2>&1 && break
  kill -0 $SERVER 2>/dev/null || { echo "the model server exited" >&2; exit 1; }
  sleep 1
done

# Run orchestrated evaluation
nv-eval run --config-name my_evaluation "${EXTRA[@]}"

# Multi-benchmark evaluation
nv-eval run \
  --config-name my_evaluation \
  -o config.type=gsm8k,hellaswag,arc_easy \
  -o execution.parallel_jobs=3 "${EXTRA[@]}"

invocation_id=$(nv-eval ls --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')

# Export results to multiple destinations
nv-eval export "$invocation_id" \
  --dest mlflow,wandb,local \
  --format json

# Monitor progress
nv-eval status "$invocation_id"
