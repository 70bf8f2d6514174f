#!/usr/bin/env bash
# Set up and run the whole test suite on SQLite, then on PostgreSQL (127.0.0.1:5432, user postgres).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
echo "== import layers (.importlinter)"
lint-imports --no-cache --no-logo
echo "== tests on SQLite"
env -u DATABASE_URL pytest "$@"
echo "== tests on PostgreSQL"
bash scripts/ensure-postgres.sh
DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ipresmgr} pytest "$@"
