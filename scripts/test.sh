#!/usr/bin/env bash
# README command 2: set up (idempotent) and run the whole test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/unit -k regions`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
workers=${PILEFLOW_TEST_WORKERS:-$(nproc)}
# pytest exits 5 when it collects no test: that is a failure here, never a pass.
exec .venv/bin/python -m pytest -n "$workers" --durations=15 "$@"
