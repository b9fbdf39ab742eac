#!/usr/bin/env bash
# Pattern 4: distributed evaluation with Slurm, as in the integration guide.
# Needs a Slurm cluster (sbatch/squeue on PATH). For a single-node test cluster on this machine:
#   bash packages/nv-eval/tests/slurm_cluster.sh start   (as root; prints `export SLURM_CONF=...`)
# EXTRA_OVERRIDES adds -o overrides (the tests use it for small limit_samples).
set -euo pipefail
cd "$(dirname "$0")"
read -r -a EXTRA <<< "${EXTRA_OVERRIDES:-}"

# Submit distributed evaluation
nv-eval run \
  --config-name slurm_evaluation \
  --executor slurm "${EXTRA[@]}"

invocation_id=$(nv-eval ls --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
nv-eval status "$invocation_id"
