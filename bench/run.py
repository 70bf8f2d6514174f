#!/usr/bin/env python3
"""How fast IPResMgr hands out addresses: gunicorn on PostgreSQL, driven over loopback HTTP.

    .venv/bin/python bench/run.py            # the full run behind docs/benchmarks.md (~5 min)
    .venv/bin/python bench/run.py --smoke    # a small run (CI stage), under a minute

It creates its own database (dropped at the end), registers a cluster and subnets, starts gunicorn
on 127.0.0.1, and for each fill level (addresses reserved by other pools in other subnets) and each
concurrency level creates a pool of `--ops` replicas, has the clients require an address for
`--ops` new pods (a node drains), then release them all, `--rounds` times. Every hold a client saw
is checked for overlap with another pod's hold of the same address.

The load generator is this process: asyncio with a hand-written HTTP/1.1 client, one TCP
connection per call (as the CNI plugin, a fresh process per pod, does). Its own CPU time is
measured and reported, so what it takes from the server is on the record."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ceiling, cpu, scenarios, vacuum  # noqa: E402
from bench.database import HOT_SUBNET, REGION, count_queries, recreate_database, setup_database  # noqa: E402
from bench.levels import fill_to, pool_operations, run_level  # noqa: E402
from bench.machine import machine_facts  # noqa: E402
from bench.report import format_level, print_profile, print_summary, scenario_problems  # noqa: E402
from bench.server import gunicorn  # noqa: E402


def postgres_run(args, env: dict) -> dict:
    env = {**env, "DATABASE_URL": args.database_url}
    recreate_database(args.database_url)
    report: dict = {"machine": machine_facts(args.database_url), "levels": [], "pool_ops": {}}
    args.postmaster = cpu.postmaster_pid(args.database_url)
    try:
        if "ceiling" in args.scenarios:
            report["ceiling"] = database_ceiling(args)
        token = setup_database(env, root=args.serve)
        if args.serve == ROOT:  # the statement count knows only this checkout's modules
            report["queries"] = count_queries(env)
        server = vacuum.settings(args.database_url)
        every = (
            server["naptime_s"] if args.vacuum_every is None and not server["autovacuum"] else args.vacuum_every or 0
        )
        report["vacuum"] = {"autovacuum": "on" if server["autovacuum"] else "off", "stand_in_every_s": every}
        if every:
            print(f"-- autovacuum is off on this server: a stand-in vacuums the hot tables every {every} s", flush=True)
        if "levels" in args.scenarios:
            with vacuum.stand_in(args.database_url, every=every, report=report["vacuum"]):
                run_levels(args, env, token, report)
        if "onepool" in args.scenarios:
            with vacuum.stand_in(args.database_url, every=every, report=report["vacuum"]):
                run_one_pool_level(args, env, token, report)
        if {"burst", "churn"} & set(args.scenarios):
            with vacuum.stand_in(args.database_url, every=every, report=report["vacuum"]):
                run_one_pool_scenarios(args, env, token, report)
    finally:
        if not args.keep_db:
            recreate_database(args.database_url, drop_only=True)
    return report


def database_ceiling(args) -> dict:
    if not ceiling.pgbench_available():
        print("-- database ceiling: pgbench not found, skipped", flush=True)
        return {}
    result = ceiling.measure(args.database_url, clients=args.ceiling_clients, seconds=args.ceiling_seconds)
    print(f"-- database ceiling (pgbench): {json.dumps(result)}", flush=True)
    return result


def run_levels(args, env: dict, token: str, report: dict) -> None:
    with gunicorn(
        env,
        args.port,
        workers=args.workers,
        threads=args.threads,
        worker_class=args.worker_class,
        profile=args.profile,
        root=args.serve,
    ) as server:
        meter = cpu.Meter([server.pid], args.postmaster)
        report["pool_ops"]["empty"] = asyncio.run(pool_operations(args.port, token, "empty"))
        fill_state = {"reserved": 0, "pools": 0}
        for fill in args.fills:
            fill_seconds = asyncio.run(fill_to(args.port, token, fill_state, fill))
            print(f"-- fill {fill_state['reserved']} reserved ({fill_seconds:.1f} s to load)", flush=True)
            for concurrency in args.concurrency:
                level = asyncio.run(
                    run_level(
                        args.port,
                        token,
                        f"hot-f{fill}-c{concurrency}",
                        concurrency=concurrency,
                        ops=args.ops,
                        rounds=args.rounds,
                        pools=args.pools,
                        max_seconds=args.max_seconds,
                        meter=meter,
                    )
                )
                level["fill"] = fill_state["reserved"]
                level["fill_seconds"] = round(fill_seconds, 2)
                report["levels"].append(level)
                print(format_level(level), flush=True)
        report["pool_ops"]["filled"] = asyncio.run(pool_operations(args.port, token, "filled"))


def run_one_pool_level(args, env: dict, token: str, report: dict) -> None:
    """`--one-pool-clients` clients require for `--one-pool-pods` new pods of one pool, then release
    them, against one instance of `--workers` workers (the figure an operator sizes by)."""
    with gunicorn(
        env,
        args.port,
        workers=args.workers,
        threads=args.threads,
        worker_class=args.worker_class,
        profile=args.profile,
        root=args.serve,
    ) as server:
        level = asyncio.run(
            run_level(
                args.port,
                token,
                "one-pool",
                concurrency=args.one_pool_clients,
                ops=args.one_pool_pods,
                rounds=1,
                pools=1,
                max_seconds=args.max_seconds,
                meter=cpu.Meter([server.pid], args.postmaster),
            )
        )
    level["fill"] = 0
    report["one_pool"] = level
    print("one pool " + format_level(level), flush=True)


def run_one_pool_scenarios(args, env: dict, token: str, report: dict) -> None:
    """The burst and the churn, against `--instances` app instances on the one database."""
    ports = [args.port + 2 + k for k in range(args.instances)]
    hot = {"NetRegionalID": REGION, "SubnetID": HOT_SUBNET[0], "SubnetGatewayAddr": HOT_SUBNET[2]}
    with ExitStack() as servers:
        roots = [
            servers.enter_context(
                gunicorn(
                    env,
                    port,
                    workers=args.instance_workers,
                    threads=args.threads,
                    worker_class=args.worker_class,
                    root=args.serve,
                )
            ).pid
            for port in ports
        ]
        meter = cpu.Meter(roots, args.postmaster)
        if "burst" in args.scenarios:
            result = asyncio.run(
                scenarios.burst(
                    ports,
                    token,
                    name="burst",
                    pods=args.burst_pods,
                    in_flight=args.burst_in_flight,
                    subnet=hot,
                    meter=meter,
                )
            )
            report["burst"] = result
            print(f"-- burst: {json.dumps(result)}", flush=True)
        if "churn" in args.scenarios:
            result = asyncio.run(
                scenarios.churn(
                    ports,
                    token,
                    name="churn",
                    pool_size=args.churn_pool,
                    clients=args.churn_clients,
                    seconds=args.churn_seconds,
                    window=args.churn_window,
                    subnet=hot,
                    meter=meter,
                )
            )
            report["churn"] = result
            print(f"-- churn: {json.dumps(result)}", flush=True)


def sqlite_run(args, env: dict) -> list[dict]:
    """The embedded default: SQLite, one gunicorn worker process."""
    folder = tempfile.mkdtemp(prefix="ipresmgr-bench-")
    env = {k: v for k, v in env.items() if k != "DATABASE_URL"}
    env["IPRESMGR_SQLITE_PATH"] = os.path.join(folder, "bench.sqlite3")
    levels = []
    try:
        token = setup_database(env)
        with gunicorn(env, args.port + 1, workers=1, threads=args.sqlite_threads, worker_class="gthread") as server:
            meter = cpu.Meter([server.pid])  # the database is in the server's process
            for concurrency in (1, 8):
                level = asyncio.run(
                    run_level(
                        args.port + 1,
                        token,
                        f"sqlite-c{concurrency}",
                        concurrency=concurrency,
                        ops=args.sqlite_ops,
                        rounds=1,
                        pools=1,
                        max_seconds=args.max_seconds,
                        meter=meter,
                    )
                )
                level["fill"] = 0
                levels.append(level)
                print("sqlite " + format_level(level), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return levels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ipresmgr_bench"),
        help="PostgreSQL database to create, use and drop (its name must start with ipresmgr_)",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8400)))
    parser.add_argument("--ops", type=int, default=1000, help="pods that require (then release) per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--pools", type=int, default=8, help="pools the pods of one level spread over (a node drain: many workloads)"
    )
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32, 64])
    parser.add_argument("--fills", type=lambda s: [int(x) for x in s.split(",")], default=[1000, 10_000, 100_000])
    parser.add_argument("--max-seconds", type=float, default=120, help="time bound of one level")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("GUNICORN_WORKERS", os.cpu_count() or 2)))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("GUNICORN_THREADS", 4)))
    parser.add_argument("--worker-class", default=os.environ.get("GUNICORN_WORKER_CLASS", "gthread"))
    parser.add_argument("--sqlite-ops", type=int, default=1000)
    parser.add_argument("--sqlite-threads", type=int, default=4)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument(
        "--serve",
        type=lambda s: Path(s).resolve(),
        default=ROOT,
        help="the checkout to migrate and serve (default: this one): an older commit, measured by today's bench",
    )
    parser.add_argument("--json", type=Path, help="also write the whole report here")
    parser.add_argument(
        "--profile",
        type=lambda s: Path(s).resolve(),
        help="record the server with py-spy into this file (collapsed stacks)",
    )
    parser.add_argument("--smoke", action="store_true", help="a small run: checks that it works, not how fast")
    parser.add_argument(
        "--scenarios",
        type=lambda s: s.split(","),
        default=["ceiling", "levels", "onepool", "burst", "churn"],
        help="which parts to run (comma-separated): ceiling, levels, onepool, burst, churn",
    )
    parser.add_argument("--one-pool-clients", type=int, default=32)
    parser.add_argument("--one-pool-pods", type=int, default=2000)
    parser.add_argument("--ceiling-clients", type=int, default=32)
    parser.add_argument("--ceiling-seconds", type=int, default=20)
    parser.add_argument("--instances", type=int, default=2, help="app instances for the burst and the churn")
    parser.add_argument("--instance-workers", type=int, default=1, help="gunicorn workers of each of those")
    parser.add_argument("--burst-pods", type=int, default=1000)
    parser.add_argument("--burst-in-flight", type=int, default=200)
    parser.add_argument("--churn-seconds", type=float, default=300)
    parser.add_argument("--churn-window", type=float, default=30)
    parser.add_argument("--churn-clients", type=int, default=32)
    parser.add_argument("--churn-pool", type=int, default=200)
    parser.add_argument(
        "--vacuum-every",
        type=float,
        default=None,
        help="seconds between the autovacuum stand-in's VACUUMs (bench/vacuum.py); default: the server's "
        "autovacuum_naptime when its autovacuum is off, else none; 0: never",
    )
    args = parser.parse_args()
    if args.smoke:
        args.ops, args.rounds, args.concurrency, args.fills, args.sqlite_ops = 200, 1, [1, 8], [1000], 100
        args.ceiling_clients, args.ceiling_seconds = 8, 3
        args.burst_pods, args.burst_in_flight = 200, 50
        args.one_pool_clients, args.one_pool_pods = 8, 200
        args.churn_seconds, args.churn_window, args.churn_clients, args.churn_pool = 12, 4, 8, 40
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    env.setdefault("LOG_LEVEL", "ERROR")  # the refused warm-up calls would log a line each
    env.setdefault("IPRESMGR_CALL_LOG_LEVEL", "WARNING")  # nor one line per call (only Code 50 and 99)
    env.setdefault("IPRESMGR_SECRET_KEY", "bench-" + os.urandom(16).hex())  # serving is refused without one
    started = time.perf_counter()
    report = postgres_run(args, env)
    if not args.no_sqlite:
        report["sqlite"] = sqlite_run(args, env)
    report["command"] = " ".join(sys.argv)
    report["gunicorn"] = {"worker_class": args.worker_class, "workers": args.workers, "threads": args.threads}
    report["seconds"] = round(time.perf_counter() - started, 1)
    print_summary(report)
    if args.profile and args.profile.exists():
        print_profile(report, args.profile)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    problems = scenario_problems(report)
    if problems:
        print("FAILED: " + "; ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
