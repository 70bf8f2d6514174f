#!/usr/bin/env bash
# A tiny run of the audit-log benchmark (bench/audit.py --smoke, ~30 s): 20,000 events filled by
# SQL, every timed read answered (no 5xx), RequireIP with and without readers, no duplicate and no
# error. Not a speed check; the numbers are printed only.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
. .venv/bin/activate
bash scripts/ensure-postgres.sh
python bench/audit.py --smoke \
  --database-url "${BENCH_AUDIT_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ipresmgr_bench_audit_smoke}"
