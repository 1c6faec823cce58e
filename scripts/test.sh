#!/usr/bin/env bash
# Set up from nothing and run the whole test suite (lint, type check, tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== ruff" >&2
.venv/bin/ruff check src tests benchmarks
echo "== mypy" >&2
.venv/bin/mypy
echo "== pytest" >&2
exec .venv/bin/pytest -n 2 -q "$@"
