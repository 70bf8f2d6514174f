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
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ceiling, cpu, scenarios, vacuum  # noqa: E402
from bench.checks import Holding, overlapping_holdings  # noqa: E402
from bench.loadgen import HOST, Phase, call, drive  # noqa: E402

REGION = "bench-region"
HOT_SUBNET = ("bench-hot", "10.8.0.0/16", "10.8.0.1")
FILL_SUBNETS = [("bench-fill-0", "10.100.0.0/16", "10.100.0.1"), ("bench-fill-1", "10.101.0.0/16", "10.101.0.1")]
FILL_POOL_MAX = 10_000
FILL_POOLS_PER_SUBNET = 6


# Machine and processes ---------------------------------------------------------------------------


def cpu_busy_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def machine_facts(database_url: str | None) -> dict:
    facts = {
        "cpus": os.cpu_count(),
        "cpu_model": "",
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            facts["cpu_model"] = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), ""
            )
    except OSError:
        pass
    if database_url:
        import psycopg

        with psycopg.connect(database_url) as conn:
            facts["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
            facts["pg_settings"] = {
                name: conn.execute(f"SHOW {name}").fetchone()[0]
                for name in ("shared_buffers", "synchronous_commit", "fsync", "max_connections")
            }
    return facts


def admin_url(database_url: str) -> tuple[str, str]:
    """(URL of the server's `postgres` database, name of the benchmark's database)."""
    base, _, name = database_url.rpartition("/")
    return f"{base}/postgres", name.split("?")[0]


def recreate_database(database_url: str, *, drop_only: bool = False) -> None:
    import psycopg

    url, name = admin_url(database_url)
    # A guard against dropping a real database by a slip of the URL: benchmark databases say so.
    if not name.startswith("ipresmgr_") and "bench" not in name:
        raise SystemExit(
            f"refusing to drop database {name!r}: a benchmark's database name starts with ipresmgr_ or says bench"
        )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict, *args: str, root: Path = ROOT) -> str:
    """`manage.py ARGS` of the checkout at `root` (another one to measure an older version)."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def free_port_or_die(port: int) -> None:
    with socket.socket() as s:
        if s.connect_ex((HOST, port)) == 0:
            raise SystemExit(f"port {port} is taken; pass --port")


@contextmanager
def gunicorn(
    env: dict,
    port: int,
    *,
    workers: int,
    threads: int,
    worker_class: str,
    profile: Path | None = None,
    root: Path = ROOT,
):
    """Serve the checkout at `root` (this one by default) with the benchmark's gunicorn settings."""
    free_port_or_die(port)
    env = {
        **env,
        "GUNICORN_BIND": f"{HOST}:{port}",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
        "GUNICORN_WORKER_CLASS": worker_class,
    }
    gunicorn_bin = str(Path(sys.executable).with_name("gunicorn"))
    command = [gunicorn_bin, "ipresmgr_site.wsgi", "-c", str(ROOT / "bench" / "gunicorn.conf.py")]
    if profile:  # sample every worker's on-CPU stacks, collapsed (bench/profile_summary.py)
        py_spy = str(Path(sys.executable).with_name("py-spy"))
        record = [py_spy, "record", "--subprocesses", "--format", "raw", "-r", "200", "-o", str(profile)]
        command = [*record, "--", *command]
    proc = subprocess.Popen(
        command,
        cwd=root,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise SystemExit("gunicorn exited at start")
            try:
                status, _ = asyncio.run(call(port, "/v1/ip/require", {}, token=None))
                if status in (400, 401):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not answer within 30 s")
            time.sleep(0.2)
        # Warm every worker (imports, first DB connection) before anything is timed.
        asyncio.run(_warm(port, workers * threads * 2))
        yield proc
    finally:
        # Under py-spy, stop gunicorn (its child) and let py-spy write its file as gunicorn ends.
        target = children(proc.pid)[:1] if profile else [proc.pid]
        for pid in target or [proc.pid]:
            os.kill(pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


async def _warm(port: int, n: int) -> None:
    await asyncio.gather(*[call(port, "/v1/ip/require", {}, token=None) for _ in range(n)])


def workload(name: str) -> dict:
    return {"K8SClusterID": "bench", "K8SNamespace": "bench", "K8SApiResourceKind": 0, "K8SApiResourceName": name}


async def contract(port: int, token: str, path: str, body: dict) -> dict:
    status, answer = await call(port, path, body, token=token)
    if status != 200 or answer.get("Code") != 0:
        raise SystemExit(f"{path} answered HTTP {status}: {answer}")
    return answer


async def create_pool(port, token, name, replicas, subnet) -> float:
    started = time.perf_counter()
    await contract(
        port,
        token,
        "/v1/ippool/create",
        {
            **workload(name),
            "K8SApiResourceReplicas": replicas,
            "NetRegionalID": REGION,
            "SubnetID": subnet[0],
            "SubnetGatewayAddr": subnet[2],
        },
    )
    return time.perf_counter() - started


async def scale_pool(port, token, name, new) -> float:
    started = time.perf_counter()
    body = {**workload(name), "K8SApiResourceOldReplicas": 0, "K8SApiResourceNewReplicas": new}
    await contract(port, token, "/v1/ippool/scale", body)
    return time.perf_counter() - started


async def release_pool(port, token, name) -> None:
    await contract(port, token, "/v1/ippool/release", workload(name))


async def run_level(
    port: int,
    token: str,
    name: str,
    *,
    concurrency: int,
    ops: int,
    rounds: int,
    pools: int,
    max_seconds: float,
    meter: cpu.Meter | None = None,
):
    """Create `pools` pools holding `ops` addresses in all; then `rounds` times: `ops` new pods,
    spread over the pools, require an address, then all release theirs."""
    names = [f"{name}-{k}" for k in range(pools)]
    for pool_name in names:
        await create_pool(port, token, pool_name, -(-ops // pools), HOT_SUBNET)
    require, release = Phase(), Phase()
    meter = meter or cpu.Meter()
    require_cpu, release_cpu = cpu.Tally(), cpu.Tally()
    holdings: list[Holding] = []
    cpu_client = os.times()
    busy0, total0 = cpu_busy_jiffies()
    deadline = time.perf_counter() + max_seconds
    for round_no in range(rounds):
        pods = [(names[i % pools], f"{name}-r{round_no}-p{i}") for i in range(ops)]

        async def require_one(job):
            pool_name, pod = job
            status, body = await call(
                port,
                "/v1/ip/require",
                {**workload(pool_name), "K8SPodID": pod, "K8SApiResourceID": "rid", "ReqID": pod},
                token=token,
            )
            if status != 200 or body.get("Code") != 0:
                return False, f"require {pod}: HTTP {status} {body}"
            return True, (pool_name, pod, body["IP"], time.perf_counter())

        async def release_one(held):
            pool_name, pod, ip, answered = held
            sent = time.perf_counter()
            status, body = await call(
                port,
                "/v1/ip/release",
                {**workload(pool_name), "K8SPodID": pod, "K8SApiResourceID": "rid", "IP": ip, "ReqID": pod},
                token=token,
            )
            if status != 200 or body.get("Code") != 0:
                return False, f"release {pod} {ip}: HTTP {status} {body}"
            return True, Holding(pod=pod, ip=ip, require_answered=answered, release_sent=sent)

        with meter.counting(require_cpu):
            held = await drive(pods, concurrency, deadline, require, require_one)
        with meter.counting(release_cpu):
            holdings += await drive(held, concurrency, deadline, release, release_one)
    busy1, total1 = cpu_busy_jiffies()
    cpu_after = os.times()
    for pool_name in names:
        await release_pool(port, token, pool_name)
    client_cpu = (cpu_after.user - cpu_client.user) + (cpu_after.system - cpu_client.system)
    calls = require.calls + release.calls
    return {
        "concurrency": concurrency,
        "pools": pools,
        "require": {**require.summary(), **require_cpu.per_call(require.calls)},
        "release": {**release.summary(), **release_cpu.per_call(release.calls)},
        "holdings": len(holdings),
        "duplicates": len(overlapping_holdings(holdings)),
        "machine_cpu_busy_pct": round(100 * (busy1 - busy0) / max(1, total1 - total0), 1),
        "client_cpu_us_per_call": round(1e6 * client_cpu / max(1, calls), 1),
        "client_cpu_pct_of_machine": round(
            100 * client_cpu / max(1e-9, (require.seconds + release.seconds) * (os.cpu_count() or 1)), 1
        ),
    }


async def fill_to(port: int, token: str, state: dict, target: int) -> float:
    """Reserve addresses in other pools and subnets until `target` are reserved; returns seconds."""
    started = time.perf_counter()
    while state["reserved"] < target:
        size = min(FILL_POOL_MAX, target - state["reserved"])
        k = state["pools"]
        await create_pool(port, token, f"fill-{k}", size, FILL_SUBNETS[k // FILL_POOLS_PER_SUBNET])
        state["pools"] += 1
        state["reserved"] += size
    return time.perf_counter() - started


# Queries per call ---------------------------------------------------------------------------------


def count_queries(env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "count_queries.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


# The runs ------------------------------------------------------------------------------------------


def setup_database(env: dict, *, root: Path = ROOT) -> str:
    manage(env, "migrate", "--no-input", "-v0", root=root)
    token = manage(env, "create_cluster", "--cluster-id", "bench", root=root).strip().splitlines()[-1]
    for subnet_id, cidr, gateway in [HOT_SUBNET, *FILL_SUBNETS]:
        manage(
            env,
            "create_subnet",
            "--net-regional-id",
            REGION,
            "--subnet-id",
            subnet_id,
            "--cidr",
            cidr,
            "--gateway",
            gateway,
            root=root,
        )
    return token


def postgres_run(args, env: dict) -> dict:
    env = {**env, "DATABASE_URL": args.database_url}
    recreate_database(args.database_url)
    report: dict = {"machine": machine_facts(args.database_url), "levels": [], "pool_ops": {}}
    args.postmaster = cpu.postmaster_pid(args.database_url)
    try:
        if "ceiling" in args.scenarios:
            report["ceiling"] = database_ceiling(args)
        token = setup_database(env)
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
                gunicorn(env, port, workers=args.instance_workers, threads=args.threads, worker_class=args.worker_class)
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


async def pool_operations(port: int, token: str, tag: str) -> dict:
    create_5000 = await create_pool(port, token, f"create-{tag}", 5000, HOT_SUBNET)
    await create_pool(port, token, f"scale-{tag}", 0, HOT_SUBNET)
    scale_10000 = await scale_pool(port, token, f"scale-{tag}", 10_000)
    for name in (f"create-{tag}", f"scale-{tag}"):
        await release_pool(port, token, name)
    result = {"create_5000_s": round(create_5000, 3), "scale_0_to_10000_s": round(scale_10000, 3)}
    print(f"-- pool operations ({tag}): {result}", flush=True)
    return result


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


# Output -------------------------------------------------------------------------------------------


def format_level(level: dict) -> str:
    rq, rl = level["require"], level["release"]
    return (
        f"fill {level['fill']:>7} pools {level['pools']} c={level['concurrency']:>2}  "
        f"require {rq['per_second']:>7.1f}/s "
        f"p50 {rq['p50_ms']:>6.1f} p95 {rq['p95_ms']:>6.1f} p99 {rq['p99_ms']:>6.1f} ms  "
        f"release {rl['per_second']:>7.1f}/s p50 {rl['p50_ms']:>6.1f} p95 {rl['p95_ms']:>6.1f} "
        f"p99 {rl['p99_ms']:>6.1f} ms  errors {rq['errors'] + rl['errors']}  dup {level['duplicates']}  "
        f"cpu {level['machine_cpu_busy_pct']}% (client {level['client_cpu_pct_of_machine']}%)  "
        f"CPU per call, server/PostgreSQL: require {cpu_per_call(rq)}, release {cpu_per_call(rl)}"
    )


def cpu_per_call(phase: dict) -> str:
    return f"{phase.get('server_cpu_us_per_call', 0):.0f}/{phase.get('pg_cpu_us_per_call', 0):.0f} µs"


def markdown(report: dict) -> str:
    lines = [
        "| reserved elsewhere | pools | clients | requires/s | p50 / p95 / p99 ms | releases/s | p50 / p95 / p99 ms "
        "| errors | duplicates | machine CPU | load generator CPU | CPU per require, server / PostgreSQL "
        "| CPU per release, server / PostgreSQL |",
        "|---:|---:|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for level in report["levels"]:
        rq, rl = level["require"], level["release"]
        lines.append(
            f"| {level['fill']:,} | {level['pools']} | {level['concurrency']} | {rq['per_second']:,.0f} "
            f"| {rq['p50_ms']:.1f} / {rq['p95_ms']:.1f} / {rq['p99_ms']:.1f} | {rl['per_second']:,.0f} "
            f"| {rl['p50_ms']:.1f} / {rl['p95_ms']:.1f} / {rl['p99_ms']:.1f} | {rq['errors'] + rl['errors']} "
            f"| {level['duplicates']} of {level['holdings']:,} holds | {level['machine_cpu_busy_pct']:.0f}% "
            f"| {level['client_cpu_pct_of_machine']:.0f}% ({level['client_cpu_us_per_call']:.0f} µs/call) "
            f"| {cpu_per_call(rq)} | {cpu_per_call(rl)} |"
        )
    return "\n".join(lines)


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
    parser.add_argument("--json", type=Path, help="also write the whole report here")
    parser.add_argument("--profile", type=Path, help="record the server with py-spy into this file (collapsed stacks)")
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
    print()
    print(f"machine: {json.dumps(report['machine'])}")
    print(f"gunicorn: {report['gunicorn']}")
    print(f"SQL statements per call: {json.dumps({k: v for k, v in report['queries'].items() if k != 'sql'})}")
    print(f"pool operations: {json.dumps(report['pool_ops'])}")
    if report.get("vacuum"):
        print(f"vacuum: {json.dumps(report['vacuum'])}")
    print()
    if report.get("ceiling"):
        print(f"database ceiling (pgbench, {report['ceiling']['clients']} clients): {json.dumps(report['ceiling'])}")
    if report["levels"]:
        print(markdown(report))
    if report.get("sqlite"):
        print()
        print("SQLite, one gunicorn process:")
        print(markdown({"levels": report["sqlite"]}))
    if report.get("one_pool"):
        print("\none pool: " + json.dumps(with_ceiling_share(report, report["one_pool"])))
    for name in ("burst", "churn"):
        if report.get(name):
            print(f"\n{name}: {json.dumps(with_ceiling_share(report, report[name]))}")
    print(f"\ntook {report['seconds']} s")
    if args.profile and args.profile.exists():
        from bench import profile_summary

        served = report.get("one_pool") or (report["levels"] or [{}])[-1]
        calls = [served.get(phase, {}) for phase in ("require", "release")]
        per_call = sum(c.get("server_cpu_us_per_call", 0) * c.get("calls", 0) for c in calls) / max(
            1, sum(c.get("calls", 0) for c in calls)
        )
        print(f"\nprofile {args.profile} (server CPU per call of the profiled run: {per_call:.0f} µs, under py-spy):")
        print(profile_summary.table(str(args.profile), per_call or None))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    problems = scenario_problems(report)
    if problems:
        print("FAILED: " + "; ".join(problems))
        return 1
    return 0


def with_ceiling_share(report: dict, result: dict) -> dict:
    """The scenario's throughput also as a percentage of the database's ceiling."""
    top = (report.get("ceiling") or {}).get("allocations_per_s")
    if not top:
        return result
    shares = {}
    if "require" in result:
        per_second = result["require"].get("pods_per_s", result["require"].get("per_second", 0))
        shares["require_pct_of_ceiling"] = round(100 * per_second / top, 1)
    if "first_window_per_s" in result:
        with_releases = report["ceiling"]["allocations_per_s_with_releases"]
        shares["pairs_pct_of_ceiling_with_releases"] = round(100 * result["first_window_per_s"] / with_releases, 1)
    return {**result, **shares}


def scenario_problems(report: dict) -> list[str]:
    levels = report["levels"] + report.get("sqlite", []) + ([report["one_pool"]] if report.get("one_pool") else [])
    problems = []
    if any(lv["duplicates"] for lv in levels):
        problems.append("levels with duplicates")
    if any(lv["require"]["errors"] + lv["release"]["errors"] for lv in levels):
        problems.append("levels with errors")
    burst = report.get("burst")
    if burst and (burst["duplicates"] or burst["require"]["errors"] or burst["release"]["errors"]):
        problems.append("burst: duplicates or errors")
    if burst and burst["distinct_ips"] != burst["require"]["pods"]:
        problems.append("burst: not every pod got its own address")
    churn = report.get("churn")
    if churn and (churn["duplicates"] or churn["errors"]):
        problems.append("churn: duplicates or errors")
    return problems


if __name__ == "__main__":
    sys.exit(main())
