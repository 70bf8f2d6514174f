#!/usr/bin/env python3
"""What a metrics scrape costs at scale: 10,000 active pools, 1,000,000 addresses (issue 21).

    .venv/bin/python bench/metrics_scrape.py                  # the documented run (fills once)
    .venv/bin/python bench/metrics_scrape.py --pools 200 --addresses 20000   # quick

It makes its own PostgreSQL database (`ipresmgr_bench_metrics`; `--database-url`), migrates it,
registers `--subnets` /16 subnets with manage.py create_subnet, and fills pools and addresses by
SQL: every pool has addresses / pools addresses, one in twenty pools every address bound (full),
the others a tenth idle. No leases (the scrape does not read them). A later run on the same URL
skips the fill when the tables already hold that many rows.

Then it times, in this process, what each path answers (the collectors and the text, as the view
does), `--repeat` times (median and max): /metrics/instance, /metrics/database with the default
IPRESMGR_METRICS_POOLS=full, with `all` (the series of every pool, as before), and the series
count of each. `--app-root DIR` times that checkout's /metrics instead (e.g. the version before this
split: `git archive <commit> | tar -x -C DIR`), with the statement timeout raised so it finishes.
Run from a quiet machine if you can; this one is shared (docs/benchmarks.md says so with the figures)."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ipresmgr_bench_metrics"

FILL_POOLS = """
INSERT INTO pools_pool (k8s_cluster_id, namespace, kind, name, subnet_id, target, reserved_count, state,
                        created_at, updated_at)
SELECT 'bench-' || mod(g, 3), 'ns-' || mod(g, 50), 0, 'w-' || g,
       (SELECT id FROM pools_subnet ORDER BY id OFFSET mod(g, %(subnets)s) LIMIT 1),
       %(per_pool)s, %(per_pool)s, 'active', now(), now()
FROM generate_series(1, %(pools)s) AS g
"""
# Address n of a pool: the n-th of the pool's slice of its subnet (after network and gateway); one
# pool in twenty has every address bound (full), the others every tenth idle.
FILL_ADDRESSES = """
WITH p AS (
    SELECT id, subnet_id, row_number() OVER (ORDER BY id) - 1 AS ord,
           row_number() OVER (PARTITION BY subnet_id ORDER BY id) - 1 AS slot
    FROM pools_pool
), a AS (
    SELECT p.id AS pool_id, p.subnet_id, s.net_regional_id, p.ord * %(per_pool)s + n AS number,
           network(s.cidr::inet) + (2 + p.slot * %(per_pool)s + n) AS ip,
           mod(p.ord, 20) = 0 OR mod(n, 10) <> 0 AS bound
    FROM p JOIN pools_subnet s ON s.id = p.subnet_id CROSS JOIN generate_series(0, %(per_pool)s - 1) AS n
)
INSERT INTO pools_address (subnet_id, net_regional_id, pool_id, ip, ip_key, mac, port_id, reserved_at, idle_since)
SELECT subnet_id, net_regional_id, pool_id, host(ip), lpad(to_hex(ip - '0.0.0.0'::inet), 32, '0'),
       'aa:bb:' || regexp_replace(lpad(to_hex(number), 8, '0'), '(..)(..)(..)(..)', '\\1:\\2:\\3:\\4'),
       md5(pool_id || '-' || number)::uuid, now(), CASE WHEN bound THEN NULL ELSE now() END
FROM a
"""


def setup_database(url: str, subnets: int) -> dict:
    env = {**os.environ, "DATABASE_URL": url, "IPRESMGR_SECRET_KEY": "bench-only", "PROMETHEUS_MULTIPROC_DIR": ""}
    env.pop("PROMETHEUS_MULTIPROC_DIR")
    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    name = parts.path.lstrip("/")
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input", "-v0"], env=env, check=True, cwd=ROOT)
    with psycopg.connect(url) as conn:
        have = conn.execute("SELECT count(*) FROM pools_subnet").fetchone()[0]
    for n in range(have, subnets):
        subprocess.run(
            [
                *manage,
                "create_subnet",
                "--net-regional-id",
                "bench-region",
                "--subnet-id",
                f"bench-{n}",
                "--cidr",
                f"10.{n}.0.0/16",
                "--gateway",
                f"10.{n}.0.1",
            ],
            env=env,
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
    return env


def fill(url: str, pools: int, addresses: int, subnets: int) -> float:
    import psycopg

    per_pool = addresses // pools
    assert (pools // subnets + 1) * per_pool < 65000, "too many addresses per subnet: raise --subnets"
    with psycopg.connect(url) as conn:
        have_pools = conn.execute("SELECT count(*) FROM pools_pool").fetchone()[0]
        have_addresses = conn.execute("SELECT count(*) FROM pools_address").fetchone()[0]
        if (have_pools, have_addresses) == (pools, pools * per_pool):
            return 0.0
        started = time.perf_counter()
        conn.execute("TRUNCATE pools_address, pools_pool CASCADE")
        values = {"pools": pools, "per_pool": per_pool, "subnets": subnets}
        conn.execute(FILL_POOLS, values)
        conn.execute(FILL_ADDRESSES, values)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE pools_pool")
        conn.execute("VACUUM ANALYZE pools_address")
    return time.perf_counter() - started


def measure(repeat: int, app_root: str | None) -> list[tuple[str, float, float, int]]:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from prometheus_client import generate_latest

    from ipresmgr_site.metrics import scrape_registry

    variants = (
        ("/metrics/instance", "instance", "full"),
        ("/metrics/database, IPRESMGR_METRICS_POOLS=full", "database", "full"),
        ("/metrics/database, IPRESMGR_METRICS_POOLS=all", "database", "all"),
    )
    if app_root:
        variants = ((f"/metrics of {app_root}", None, "all"),)
    rows = []
    for label, scope, pools in variants:
        settings.IPRESMGR_METRICS_POOLS = pools
        times, text = [], b""
        for _ in range(repeat):
            started = time.perf_counter()
            text = generate_latest(scrape_registry() if scope is None else scrape_registry(scope))
            times.append(time.perf_counter() - started)
        series = sum(1 for line in text.decode().splitlines() if line and not line.startswith("#"))
        rows.append((label, statistics.median(times), max(times), series))
        connection.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--pools", type=int, default=10_000)
    parser.add_argument("--addresses", type=int, default=1_000_000)
    parser.add_argument("--subnets", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--app-root", help="time this checkout's /metrics (an older version) instead")
    args = parser.parse_args(argv)
    env = setup_database(args.database_url, args.subnets)
    os.environ.update({"DATABASE_URL": env["DATABASE_URL"], "IPRESMGR_SECRET_KEY": "bench-only"})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ipresmgr_site.settings")
    sys.path.insert(0, str(ROOT))
    if args.app_root:
        sys.path.insert(0, str(Path(args.app_root).resolve()))
        os.environ["IPRESMGR_DB_STATEMENT_TIMEOUT_MS"] = "600000"
    filled = fill(args.database_url, args.pools, args.addresses, args.subnets)
    per_pool = args.addresses // args.pools
    print(f"{args.pools} active pools, {args.pools * per_pool} addresses, {args.subnets} subnets", end="")
    print(f" (filled in {filled:.0f} s)" if filled else " (already filled)")
    print(f"{'path':<72} {'median':>9} {'max':>9} {'series':>8}")
    for label, median, worst, series in measure(args.repeat, args.app_root):
        print(f"{label:<72} {median * 1000:>7.0f}ms {worst * 1000:>7.0f}ms {series:>8}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
