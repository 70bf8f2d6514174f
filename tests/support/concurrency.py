"""Run calls in parallel threads, each on its own database connection."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from django.db import connections

THREADS = 48  # PostgreSQL's default max_connections is 100; leave room for others


def in_parallel(calls):
    """Run the calls on THREADS threads, each with its own database connection."""

    def run(call):
        try:
            return call()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(run, calls))
