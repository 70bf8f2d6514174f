#!/usr/bin/env python3
"""What PostgreSQL does for one ReleaseIP (and one RequireIP): EXPLAIN (ANALYZE, BUFFERS) of the
one-statement paths' SQL in a pool of 100, 2,000 and 10,000 bound addresses, with the statistics
of a fresh install (stale: what a server with autovacuum off plans a burst with), after ANALYZE,
and as a prepared statement's generic plan.

    .venv/bin/python bench/release_plan.py [--database-url postgres://.../ipresmgr_bench_plan] [--sizes 100,2000,10000]

It creates the database, drops it at the end, and rolls back every statement it explains."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Captured(Exception):
    pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/ipresmgr_bench_plan")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[100, 2000, 10_000])
    parser.add_argument("--plans", action="store_true", help="print every plan, not only the figures")
    parser.add_argument(
        "--never-analyzed",
        action="store_true",
        help="start from tables never analyzed (autovacuum off, no ANALYZE since the install), not analyzed empty",
    )
    args = parser.parse_args()
    from bench.database import recreate_database

    recreate_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ipresmgr_site.settings")
    os.environ.setdefault("IPRESMGR_SECRET_KEY", "plan-" + os.urandom(8).hex())
    import django

    django.setup()
    from django.core.management import call_command

    try:
        call_command("migrate", "--no-input", verbosity=0)
        return explain_sizes(args.sizes, args.plans, never_analyzed=args.never_analyzed)
    finally:
        from django.db import connections

        connections.close_all()
        recreate_database(args.database_url, drop_only=True)


def explain_sizes(sizes: list[int], show_plans: bool, *, never_analyzed: bool = False) -> int:
    from django.db import connection

    from core.domain import Actor, CallContext, Workload
    from leases import services
    from pools.services.pools import pool_create
    from pools.services.subnets import subnet_create

    ctx = CallContext(actor=Actor(label="bench", is_operator=True), req_id="plan")
    subnet_create(ctx=ctx, net_regional_id="r", subnet_id="s", cidr="10.8.0.0/16", gateway="10.8.0.1")
    if not never_analyzed:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # the statistics of a fresh install: every table (nearly) empty
    first_stats = "never analyzed" if never_analyzed else "stale"
    print("| bound in the pool | statement | statistics | plan | ms | shared buffers hit/read |")
    print("|---:|---|---|---|---:|---|")
    for size in sizes:
        workload = Workload(cluster_id="c", namespace="n", kind=0, name=f"w{size}")
        pool_create(ctx=ctx, workload=workload, replicas=size, net_regional_id="r", subnet_id="s")
        ips = [services.ip_require(ctx=ctx, workload=workload, pod_id=f"p{k}").ip for k in range(size)]
        release = capture(lambda w=workload, ip=ips[7]: services.ip_release(ctx=ctx, workload=w, pod_id="p7", ip=ip))
        require = capture(lambda w=workload: services.ip_require(ctx=ctx, workload=w, pod_id="p7"))
        for stats in (first_stats, "fresh"):
            if stats == "fresh":
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
            for name, (sql, params) in (("release", release), ("require (held)", require)):
                for mode in ("custom", "generic"):
                    ms, buffers, plan = explain(sql, params, generic=mode == "generic")
                    print(f"| {size:,} | {name} | {stats} | {mode} | {ms:.2f} | {buffers} |", flush=True)
                    if show_plans:
                        print("\n".join("    " + line for line in plan) + "\n")
                custom, generic = plan_choice(sql, params)
                print(f"| {size:,} | {name} | {stats} | auto, 10 runs: {custom} custom, {generic} generic | | |")
    return 0


def capture(call) -> tuple[str, list]:
    """The SQL and parameters of the first statement `call` sends (not run)."""
    from django.db import connection

    seen = {}

    def stop(execute, sql, params, many, context):
        seen["sql"], seen["params"] = sql, list(params)
        raise Captured

    with connection.execute_wrapper(stop):
        try:
            call()
        except Captured:
            pass
    return seen["sql"], seen["params"]


def plan_choice(sql: str, params: list, runs: int = 10) -> tuple[int, int]:
    """How PostgreSQL's plan cache plans the statement, prepared and run `runs` times (as psycopg does
    with prepare_threshold): (custom plans made, generic plan uses). Custom plans are planned anew
    on every execution."""
    from django.db import connection, transaction
    from psycopg import sql as psql

    numbered = iter(range(1, 10_000))
    dollar_sql = re.sub(r"%s", lambda _m: f"${next(numbered)}", sql)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
        types = ", ".join(pg_type(value) for value in params)
        cursor.execute(f"PREPARE chosen ({types}) AS {dollar_sql}")
        values = ", ".join(psql.Literal(value).as_string(connection.connection) for value in params)
        for _ in range(runs):
            cursor.execute(f"EXECUTE chosen({values})")
        cursor.execute("SELECT custom_plans, generic_plans FROM pg_prepared_statements WHERE name = 'chosen'")
        custom, generic = cursor.fetchone()
        transaction.set_rollback(True)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    return custom, generic


def pg_type(value) -> str:
    import datetime
    import uuid

    for kind, name in ((bool, "boolean"), (int, "bigint"), (datetime.datetime, "timestamptz"), (uuid.UUID, "uuid")):
        if isinstance(value, kind):
            return name
    if type(value).__name__ in ("Jsonb", "Json"):
        return "jsonb"
    return "unknown" if value is None else "text"  # unknown: inferred from where it is used


def explain(sql: str, params: list, *, generic: bool) -> tuple[float, str, list[str]]:
    from django.db import connection, transaction

    numbered = iter(range(1, 10_000))
    dollar_sql = re.sub(r"%s", lambda _m: f"${next(numbered)}", sql)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
        cursor.execute(f"SET LOCAL plan_cache_mode = {'force_generic_plan' if generic else 'force_custom_plan'}")
        types = ", ".join(pg_type(value) for value in params)
        cursor.execute(f"PREPARE explained ({types}) AS {dollar_sql}")
        from psycopg import sql as psql

        values = ", ".join(psql.Literal(value).as_string(connection.connection) for value in params)
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE explained({values})")
        plan = [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    ms = float(next(re.search(r"Execution Time: ([\d.]+)", line).group(1) for line in plan if "Execution Time" in line))
    top = next((line for line in plan if "Buffers:" in line), "")
    hit = re.search(r"hit=(\d+)", top)
    read = re.search(r"read=(\d+)", top)
    return ms, f"{hit.group(1) if hit else 0}/{read.group(1) if read else 0}", plan


if __name__ == "__main__":
    sys.exit(main())
