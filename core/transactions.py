"""One transaction per service call, run again when the database asks for it.

Every write service is decorated with `service_transaction`, so the API, the console and the
commands all get the same all-or-nothing call and the same retries. A hot path that is a single
statement (atomic on its own) uses `retrying` alone and saves the BEGIN and COMMIT round trips."""

from __future__ import annotations

import functools
import random
import time

from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    InternalError,
    OperationalError,
    connection,
    transaction,
)

# Serialization failure, deadlock, a unique race lost to a concurrent transaction (two creates of
# one workload, two requires of one pod): running the call again sees the winner's work.
RETRY_SQLSTATES = {"40001", "40P01", "23505"}
MAX_ATTEMPTS = 5
# A server that accepts no writes (psycopg's ReadOnlySqlTransaction, an InternalError; or the
# connection check's ServerNotWritable): a standby, a demoted primary. An outage, not a bug.
READ_ONLY_SQLSTATE = "25006"


def sqlstate_of(exc: Exception) -> str | None:
    return getattr(exc, "sqlstate", None) or getattr(exc.__cause__, "sqlstate", None)


def is_read_only(exc: Exception) -> bool:
    return isinstance(exc, DatabaseError) and sqlstate_of(exc) == READ_ONLY_SQLSTATE


def is_retryable(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError | OperationalError):
        state = getattr(exc.__cause__, "sqlstate", None)
        if state in RETRY_SQLSTATES:
            return True
        # SQLite: two connections that both lost a race for the write lock.
        return state is None and "database is locked" in str(exc)
    return False


def _connection_was_lost() -> bool:
    """A persistent connection that died under us (a database restart, a failover). Checked only
    after an error, instead of a `SELECT 1` before every request."""
    if connection.in_atomic_block or connection.connection is None:
        return False
    return not connection.is_usable()


def retrying(fn):
    """Run `fn` again on a retryable conflict, and once more on a fresh connection if the
    persistent one turned out to be dead or read-only (libpq may find the new primary of a
    multi-host URL); a read-only connection is never kept for the next call. Safe because every
    call of the API is idempotent: a retried require finds the address it bound, a retried
    release finds nothing left to do."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        if connection.in_atomic_block:  # a failed statement spoiled the caller's transaction
            return fn(*args, **kwargs)
        reconnected = False
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return fn(*args, **kwargs)
            except (IntegrityError, OperationalError, InterfaceError, InternalError) as exc:
                lost = isinstance(exc, OperationalError | InterfaceError) and _connection_was_lost()
                if lost or is_read_only(exc):
                    connection.close()  # the next statement connects afresh
                    if not reconnected:
                        reconnected = True
                        continue
                    raise
                if attempt == MAX_ATTEMPTS or not is_retryable(exc):
                    raise
                time.sleep(random.uniform(0.001, 0.01) * attempt)
        raise AssertionError("unreachable")

    return run


def service_transaction(fn):
    """Run `fn` in one transaction; as the outermost transaction, again on a retryable conflict.

    Inside a caller's transaction (a test, or a service calling another) it is a savepoint and the
    outermost caller decides: a failed statement has spoiled the whole transaction by then."""

    @functools.wraps(fn)
    def in_transaction(*args, **kwargs):
        with transaction.atomic():
            return fn(*args, **kwargs)

    return retrying(in_transaction)


def rolled_back(call):
    """Run `call()` (service calls) in one transaction that is then rolled back, whatever happens:
    the answer the real call would give, and nothing kept, not even its audit event. What a dry run
    does (the admission webhook's `dryRun`). Retried on the same conflicts as a service call."""

    def once():
        with transaction.atomic():
            try:
                return call()
            finally:
                transaction.set_rollback(True)

    return retrying(once)()
