#!/usr/bin/env bash
# GPU check in one command on a GPU machine (Python 3.12 with torch + CUDA and transformers,
# no internet): installs our packages and their missing dependencies from bench/gpu_wheels
# (made by bench/gpu_wheels.sh on a machine with internet) into a venv that sees the system's
# torch, then runs bench/gpu_check.py (hf engine: CUDA vs CPU float32 echo log-probabilities
# within 1e-3, identical greedy generations, tokens/s at concurrency 1/8/64).
# The nemo engine is checked only when nemo-toolkit is already importable (its wheels,
# megatron-core and transformer-engine built for the machine's CUDA, do not travel).
# Usage: bench/gpu_check.sh [extra gpu_check.py arguments]; about 5 minutes on an H100.
set -euo pipefail
cd "$(dirname "$0")/.."
wheels=bench/gpu_wheels
py="${PYTHON:-python3.12}"
if [ ! -d "$wheels/wheels" ]; then
  echo "missing $wheels: run bench/gpu_wheels.sh on a machine with internet first" >&2
  exit 2
fi
"$py" -c "import torch, transformers; assert torch.cuda.is_available(), 'no CUDA device'" \
  || { echo "needs $py with torch (CUDA) and transformers" >&2; exit 2; }
venv="${GPU_CHECK_VENV:-/tmp/nemo-gpu-check-venv}"
[ -x "$venv/bin/python" ] || "$py" -m venv --system-site-packages "$venv"
"$venv/bin/python" -m pip install --quiet --no-index --find-links "$wheels/wheels" \
  nvidia-eval-commons nemo-evaluator "nemo-eval[hf]"
export NEMO_EVAL_HOME="$PWD/$wheels/model-cache" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
"$venv/bin/python" bench/gpu_check.py --devices cpu,cuda --out gpu_check.json "$@"
if "$venv/bin/python" -c "import nemo" 2>/dev/null; then
  echo "nemo-toolkit found: see docs/deploy.md for the nemo engine check"
else
  echo "nemo engine: skipped (needs nemo-toolkit[nlp] 2.5.3, megatron-core 0.14.0 and" \
    "transformer-engine for this CUDA, preinstalled: their wheels do not travel)"
fi
