"""Autovacuum's stand-in, for PostgreSQL servers that run with `autovacuum = off` (this machine's CI
configuration does). Production keeps autovacuum on, and migration leases 0003 tunes it for the
tables every bind and release rewrites; without it their dead rows and index entries pile up for
the whole run and a long churn measures that, not the service.

The stand-in does at most what autovacuum would: ANALYZE the hot tables when a phase starts (a
production database has had statistics for long), then VACUUM (ANALYZE) them once per
`autovacuum_naptime` while the phase runs."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import psycopg

# The tables each bind and release rewrites (models Address, Lease, Pool).
HOT_TABLES = ("pools_address", "leases_lease", "pools_pool")


def settings(database_url: str) -> dict:
    with psycopg.connect(database_url) as conn:
        on = conn.execute("SHOW autovacuum").fetchone()[0] == "on"
        naptime = conn.execute("SELECT setting::int FROM pg_settings WHERE name = 'autovacuum_naptime'").fetchone()[0]
    return {"autovacuum": on, "naptime_s": naptime}


@contextmanager
def stand_in(database_url: str, *, every: float, report: dict):
    """ANALYZE now and VACUUM (ANALYZE) every `every` seconds until the block ends; 0: do nothing."""
    if every <= 0:
        yield
        return
    stop = threading.Event()
    tables = ", ".join(HOT_TABLES)

    def run(statement: str) -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(statement)
        report["runs"] = report.get("runs", 0) + 1

    def loop() -> None:
        while not stop.wait(every):
            run(f"VACUUM (ANALYZE) {tables}")

    run(f"ANALYZE {tables}")
    thread = threading.Thread(target=loop, name="vacuum-stand-in", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
