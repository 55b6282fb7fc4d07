#!/bin/sh
# The risk officer's stateful property test at 100k sequences (make test runs 3,000).
# About 10-15 minutes on a 2-core machine. Usage: sh bench/risk_stateful_long.sh
set -eu
cd "$(dirname "$0")/.."
TILLER_HYPOTHESIS_PROFILE=long exec .venv/bin/python -m pytest -q \
    tests/policies/test_risk_stateful.py -k TestRiskStateMachine --durations=1 "$@"
