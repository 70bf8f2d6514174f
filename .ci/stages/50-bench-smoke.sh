#!/usr/bin/env bash
# A small run of the benchmark (bench/run.py --smoke, ~20-40 s): it starts, drives require and
# release over HTTP, finds no duplicate and no error. Not a speed check; the numbers are printed only.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .venv/bin/activate
bash scripts/ensure-postgres.sh
python bench/run.py --smoke --database-url "${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ipresmgr_bench_smoke}"
