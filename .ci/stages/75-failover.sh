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
stop_left_over_servers() {
  # Only servers of this stage: their data directories are ours, their ports 56100-56199.
  for pidfile in /tmp/ipresmgr-pg-*/data/postmaster.pid; do
    [ -e "$pidfile" ] || continue
    port=$(sed -n 4p "$pidfile")
    if [ "${port:-0}" -ge 56100 ] && [ "$port" -le 56199 ]; then
      runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$(dirname "$pidfile")" -m immediate stop || true
      rm -rf "$(dirname "$(dirname "$pidfile")")"
    fi
  done
}
trap stop_left_over_servers EXIT
IPRESMGR_FAILOVER_TESTS=1 env -u DATABASE_URL pytest -s tests/failover
