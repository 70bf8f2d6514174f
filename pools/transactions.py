"""One transaction per service call, run again when the database asks for it.

Every write service is decorated with `service_transaction`, so the API, the console and the
commands all get the same all-or-nothing call and the same retries."""

from __future__ import annotations

import functools
import random
import time

from django.db import IntegrityError, OperationalError, connection, transaction

# Serialization failure, deadlock, a unique race lost to a concurrent transaction (two creates of
# one workload, two requires of one pod): running the call again sees the winner's work.
RETRY_SQLSTATES = {"40001", "40P01", "23505"}
MAX_ATTEMPTS = 5


def is_retryable(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError | OperationalError):
        state = getattr(exc.__cause__, "sqlstate", None)
        if state in RETRY_SQLSTATES:
            return True
        # SQLite: two connections that both lost a race for the write lock.
        return state is None and "database is locked" in str(exc)
    return False


def service_transaction(fn):
    """Run `fn` in one transaction; as the outermost transaction, again on a retryable conflict.

    Inside a caller's transaction (a test, or a service calling another) it is a savepoint and the
    outermost caller decides: a failed statement has spoiled the whole transaction by then."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        if connection.in_atomic_block:
            with transaction.atomic():
                return fn(*args, **kwargs)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with transaction.atomic():
                    return fn(*args, **kwargs)
            except (IntegrityError, OperationalError) as exc:
                if attempt == MAX_ATTEMPTS or not is_retryable(exc):
                    raise
                time.sleep(random.uniform(0.001, 0.01) * attempt)
        raise AssertionError("unreachable")

    return run


def rolled_back(call):
    """Run `call()` (service calls) in one transaction that is then rolled back, whatever happens:
    the answer the real call would give, and nothing kept, not even its audit event. What a dry run
    does (the admission webhook's `dryRun`). Retried on the same conflicts as a service call."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                try:
                    return call()
                finally:
                    transaction.set_rollback(True)
        except (IntegrityError, OperationalError) as exc:
            if connection.in_atomic_block or attempt == MAX_ATTEMPTS or not is_retryable(exc):
                raise
            time.sleep(random.uniform(0.001, 0.01) * attempt)
    raise AssertionError("unreachable")
