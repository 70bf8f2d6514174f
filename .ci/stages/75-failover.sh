#!/usr/bin/env bash
# Database failover with real servers (issue 18): a PostgreSQL 15 primary and a streaming standby
# made by the test (initdb, pg_basebackup -R, ports 56100-56199), two gunicorn instances through
# libpq's multi-host URLs, 16 clients. The primary killed under load and the standby promoted; the
# old primary back as a standby; a stalled synchronous standby; commits lost with asynchronous
# replication. Everything the tests start is stopped by the tests themselves, and what is left of
# their servers (a failed run) by the trap below. About two minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
. .venv/bin/activate
if [ ! -x /usr/lib/postgresql/15/bin/pg_basebackup ]; then
  echo "installing PostgreSQL 15 (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
fi
# Everything the tests make (data directories, logs, pytest's tmp_path) lives in a directory of
# this stage's own; on any exit, whatever server is still running there is stopped and it goes.
export TMPDIR
TMPDIR=$(mktemp -d /tmp/ipresmgr-failover-XXXXXX)
chmod 755 "$TMPDIR"  # the servers run as user postgres
clean_up() {
  for pidfile in "$TMPDIR"/ipresmgr-pg-*/data/postmaster.pid; do
    [ -e "$pidfile" ] || continue
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$(dirname "$pidfile")" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$TMPDIR"
}
trap clean_up EXIT
IPRESMGR_FAILOVER_TESTS=1 env -u DATABASE_URL pytest -s tests/failover/test_failover.py
