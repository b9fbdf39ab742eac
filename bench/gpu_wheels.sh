#!/usr/bin/env bash
# Prepare what bench/gpu_check.sh needs on a GPU machine without internet, on a machine with it:
#   bench/gpu_wheels/   our four packages as wheels, every dependency the GPU machine's
#                       Python 3.12 + torch + transformers environment may lack (manylinux
#                       x86_64 wheels for CPython 3.12), and the default model's cache.
# Usage: bench/gpu_wheels.sh   (then copy the checkout, bench/gpu_wheels included)
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/gpu_wheels
rm -rf "$out" && mkdir -p "$out/wheels"
uv build --all-packages --wheel -o "$out/wheels" >/dev/null
# dependencies of nemo-evaluator and nemo-eval[hf] without torch (the GPU machine brings it)
uv export --frozen --no-hashes --no-emit-workspace --package nemo-eval --extra hf \
  --no-emit-package torch --no-emit-package nvidia-eval-commons >"$out/requirements.txt"
uv export --frozen --no-hashes --no-emit-workspace --package nemo-evaluator \
  >>"$out/requirements.txt"
grep -v -E '^(torch|triton|nvidia-)' "$out/requirements.txt" | sort -u >"$out/requirements-notorch.txt"
uvx pip download --quiet --only-binary=:all: --python-version 3.12 \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
  --implementation cp --dest "$out/wheels" -r "$out/requirements-notorch.txt"
# the default model, already fetched and converted by a first deploy() on this machine
cache="${NEMO_EVAL_HOME:-$HOME/.cache/nemo_eval}"
if [ ! -d "$cache" ]; then
  echo "no model cache at $cache: run 'uv run nemo-eval deploy' once (it fetches the default model)" >&2
  exit 1
fi
cp -r "$cache" "$out/model-cache"
du -sh "$out"
