#!/usr/bin/env bash
# The fine-tuning case study (bench/case_study.py) as one command: set up (idempotent, installs
# ART, bwa, pbsim and minimap2 with apt-get), then run it into OUT.
#   bash bench/case_study.sh OUT [--smoke] [--seeds 1,2,3] [--config small]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then
  echo "usage: bash bench/case_study.sh OUT [--smoke] [--seeds 1,2,3] [--config small]" >&2
  exit 2
fi
bash scripts/setup.sh >/dev/null
exec .venv/bin/python bench/case_study.py "$@"
