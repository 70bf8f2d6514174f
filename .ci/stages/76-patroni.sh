#!/usr/bin/env bash
# An automatic database failover by Patroni (issue 18): Debian's patroni and etcd-server (installed
# when missing), etcd on loopback, two Patroni members of PostgreSQL 15 with synchronous_mode: true,
# two gunicorn instances through the multi-host URL, 16 clients. The leader is killed (Patroni and
# PostgreSQL, SIGKILL) under load; Patroni promotes the synchronous replica once the leader key
# expires (ttl 20 s); the service follows and no acknowledged binding is lost. Ports 56180-56199
# (servers) and 9100-9199 (gunicorn). About two minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
. .venv/bin/activate
missing=()
[ -x /usr/lib/postgresql/15/bin/pg_ctl ] || missing+=(postgresql-15)
command -v patroni >/dev/null || missing+=(patroni)
command -v etcd >/dev/null || missing+=(etcd-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (apt-get)"
  apt-get update -qq
  # Only the binaries: no etcd or PostgreSQL service of the system started by the packages.
  printf '#!/bin/sh\nexit 101\n' > /tmp/ipresmgr-policy-rc.d
  chmod +x /tmp/ipresmgr-policy-rc.d
  [ -e /usr/sbin/policy-rc.d ] || { cp /tmp/ipresmgr-policy-rc.d /usr/sbin/policy-rc.d; own_policy=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  [ -z "${own_policy:-}" ] || rm -f /usr/sbin/policy-rc.d
fi
export TMPDIR
TMPDIR=$(mktemp -d /tmp/ipresmgr-patroni-stage-XXXXXX)
chmod 755 "$TMPDIR"  # Patroni, etcd and PostgreSQL run as user postgres
clean_up() {
  # The test stops what it started; after a failed or interrupted run, whatever still runs from
  # this stage's directory is stopped here, by its own pid.
  for pidfile in "$TMPDIR"/ipresmgr-patroni-*/m*/postmaster.pid; do
    [ -e "$pidfile" ] || continue
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$(dirname "$pidfile")" -m immediate stop >/dev/null 2>&1 || true
  done
  for pid in $(pgrep -u postgres -f "$TMPDIR" || true); do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$TMPDIR"
}
trap clean_up EXIT
IPRESMGR_PATRONI_TESTS=1 env -u DATABASE_URL pytest -s tests/failover/test_patroni.py
