"""The PostgreSQL server behind each new connection, checked by one small query:

- a server that does not accept writes (in recovery: a standby, or a demoted primary come back as
  one; or `default_transaction_read_only`) is refused at once, `ServerNotWritable`, so a call
  answers Code 50 and the next one connects afresh (libpq picks the writable host of a multi-host
  URL) instead of failing every write for the connection's lifetime;
- a writable server with another system identifier or timeline than the one this process saw
  before means a failover (or a restore) happened: one warning and `ipresmgr_db_failovers_total`,
  so an alert can say "run reconcile" (docs/failover.md).

The timeline is read from the name of the current WAL file, exact on a primary at once (the
checkpoint's timeline lags behind a promotion until the next checkpoint)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import psycopg
from django.db import OperationalError

log = logging.getLogger("ipresmgr.database")

SERVER_SQL = (
    "SELECT s.system_identifier::text, pg_is_in_recovery(), current_setting('transaction_read_only'),"
    " CASE WHEN pg_is_in_recovery() THEN NULL"
    " ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END"
    " FROM pg_control_system() s"
)
WRITABLE_SQL = "SELECT NULL, pg_is_in_recovery(), current_setting('transaction_read_only'), NULL"
READ_ONLY_SQLSTATE = "25006"


class ServerNotWritable(OperationalError):
    """The server accepts no writes: an outage (Code 50), never a bug."""

    sqlstate = READ_ONLY_SQLSTATE


@dataclass(frozen=True)
class ServerIdentity:
    system_identifier: str
    timeline: int


_last_seen: ServerIdentity | None = None
_seen_lock = threading.Lock()
_identity_readable = True  # False where pg_control_system() is not granted (some managed services)


def note_server(identity: ServerIdentity) -> bool:
    """Remember the server of a new writable connection; True (logged and counted once) when it is
    not the one this process saw before."""
    global _last_seen
    with _seen_lock:
        before, _last_seen = _last_seen, identity
    if before is None or before == identity:
        return False
    from ipresmgr_site import metrics

    metrics.DB_FAILOVERS.inc()
    log.warning(
        "database failover: connected to system %s timeline %s, before system %s timeline %s; "
        "acknowledged commits may be lost: run reconcile (docs/failover.md)",
        identity.system_identifier,
        identity.timeline,
        before.system_identifier,
        before.timeline,
    )
    return True


def check_new_connection(sender, connection, **kwargs) -> None:
    """connection_created: refuse a server that does not accept writes, note which server it is."""
    global _identity_readable
    if connection.vendor != "postgresql":
        return
    with connection.connection.cursor() as cursor:  # autocommit: a failed statement spoils nothing
        try:
            cursor.execute(SERVER_SQL if _identity_readable else WRITABLE_SQL)
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedFunction) as exc:
            _identity_readable = False
            log.warning("cannot read the server's identity, failovers will not be counted: %s", exc)
            cursor.execute(WRITABLE_SQL)
        system_identifier, in_recovery, read_only, timeline = cursor.fetchone()
    if in_recovery or read_only != "off":
        connection.close()
        why = "in recovery (a standby)" if in_recovery else "read-only (default_transaction_read_only)"
        raise ServerNotWritable(f"the database server is {why}: it accepts no writes")
    if system_identifier is not None:
        note_server(ServerIdentity(system_identifier, timeline))
