#!/usr/bin/env bash
# Pattern 5: cloud-native evaluation on Lepton. Without Lepton credentials this prints the job
# specs that would be submitted (--dry-run); with `lep login` done and LEPTON_API_KEY set, drop
# --dry-run to submit them.
set -euo pipefail
cd "$(dirname "$0")"
export LEPTON_API_KEY=${LEPTON_API_KEY:-LEPTON_API_KEY_NOT_SET}
nv-eval run --config-name cloud_evaluation --dry-run
