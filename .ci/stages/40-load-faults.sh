#!/usr/bin/env bash
# Load and fault tests with real processes (issue 3): two gunicorn instances on one PostgreSQL
# database under 64 clients, a worker SIGKILLed mid-load, a private PostgreSQL 15 stopped mid-load,
# a lock queue past the lock timeout, SQLite under concurrent requests. About two minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
. .venv/bin/activate
export IPRESMGR_LOAD_TESTS=1
echo "== load and fault tests on SQLite"
env -u DATABASE_URL pytest -s tests/load
echo "== load and fault tests on PostgreSQL"
bash scripts/ensure-postgres.sh
DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ipresmgr} pytest -s tests/load
