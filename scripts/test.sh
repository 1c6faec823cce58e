#!/usr/bin/env bash
# Set up from nothing and run the whole test suite (lint, type check, tests).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--quick" ]]; then
  # The inner loop: ruff, vulture and the pure core (x509, profiles, lint), no setup, no servers.
  shift
  .venv/bin/ruff check src tests benchmarks
  .venv/bin/vulture
  exec .venv/bin/pytest -n 2 -q -p no:cacheprovider tests/x509 tests/profiles tests/lint "$@"
fi
scripts/setup.sh
echo "== ruff (style, and the size/complexity budget of pyproject.toml)" >&2
.venv/bin/ruff check src tests benchmarks
echo "== vulture (dead code; allowlist: scripts/vulture_allowlist.py)" >&2
.venv/bin/vulture
echo "== mypy" >&2
.venv/bin/mypy
if (($# == 0)); then
  # A cheap guard against time bombs: the pure core and the reports 400 days from now.
  echo "== pytest under faketime +400d (x509, profiles, lint, report)" >&2
  faketime -f "+400d" .venv/bin/pytest -n 2 -q -p no:cacheprovider \
    tests/x509 tests/profiles tests/lint tests/report
fi
echo "== pytest" >&2
exec .venv/bin/pytest -n 2 -q "$@"
