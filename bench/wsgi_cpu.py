#!/usr/bin/env python3
"""CPU per /v1 call of the Django application alone (no HTTP server, no other process): the WSGI
handler called in this process, as gunicorn calls it, against PostgreSQL. Deterministic enough to
compare two versions back to back on a busy machine; --profile adds a cProfile of the calls.

    .venv/bin/python bench/wsgi_cpu.py [--pods 2000] [--profile] [--database-url ...]

Reports this process's CPU per require and per release (Python: Django, DRF, our code, psycopg)
and the CPU of its PostgreSQL backend per call."""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/ipresmgr_bench_wsgi")
    parser.add_argument("--pods", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    from bench.database import recreate_database

    recreate_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ipresmgr_site.settings")
    os.environ.setdefault("IPRESMGR_SECRET_KEY", "wsgi-" + os.urandom(16).hex())
    os.environ.setdefault("IPRESMGR_CALL_LOG_LEVEL", "INFO")  # the call log line is written, as in production
    try:
        return run(args)
    finally:
        from django.db import connections

        connections.close_all()
        recreate_database(args.database_url, drop_only=True)


def run(args) -> int:
    import logging

    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    call_command("migrate", "--no-input", verbosity=0)
    logging.getLogger("ipresmgr").handlers = [logging.NullHandler()]  # formatted, not printed
    from django.db import connection

    from bench.cpu import TICKS_PER_SECOND, cpu_ticks
    from core.domain import Actor, CallContext
    from pools.services.clusters import cluster_create
    from pools.services.subnets import subnet_create

    ctx = CallContext(actor=Actor(label="bench", is_operator=True), req_id="wsgi")
    subnet_create(ctx=ctx, net_regional_id="r", subnet_id="s", cidr="10.8.0.0/16", gateway="10.8.0.1")
    token = cluster_token(cluster_create, ctx)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]

    def post(path: str, body: dict) -> dict:
        raw = json.dumps(body).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(raw)),
            "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_AUTHORIZATION": f"Bearer {token}",
            "wsgi.input": io.BytesIO(raw),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.version": (1, 0),
        }
        response = application(environ, lambda status, headers, exc_info=None: None)
        content = b"".join(response)
        response.close()
        return json.loads(content)

    workload = {"K8SClusterID": "bench", "K8SNamespace": "ns", "K8SApiResourceKind": 0}
    profiler = cProfile.Profile() if args.profile else None
    results = []
    for round_no in range(args.rounds):
        name = {**workload, "K8SApiResourceName": f"w{round_no}"}
        answer = post(
            "/v1/ippool/create",
            {**name, "K8SApiResourceReplicas": args.pods, "NetRegionalID": "r", "SubnetID": "s",
             "SubnetGatewayAddr": "10.8.0.1", "ReqID": "c"},
        )  # fmt: skip
        assert answer["Code"] == 0, answer
        phases = {}
        ips = []
        for phase in ("require", "release"):
            if profiler and round_no == args.rounds - 1:
                profiler.enable()
            cpu0, pg0, wall0 = time.process_time(), cpu_ticks(backend), time.perf_counter()
            for k in range(args.pods):
                body = {**name, "K8SPodID": f"p{k}", "K8SApiResourceID": "rid", "ReqID": f"r{k}"}
                if phase == "require":
                    answer = post("/v1/ip/require", body)
                    ips.append(answer["IP"])
                else:
                    answer = post("/v1/ip/release", {**body, "IP": ips[k]})
                assert answer["Code"] == 0, answer
            cpu1, pg1, wall1 = time.process_time(), cpu_ticks(backend), time.perf_counter()
            if profiler:
                profiler.disable()
            phases[phase] = {
                "app_cpu_us_per_call": round(1e6 * (cpu1 - cpu0) / args.pods),
                "pg_cpu_us_per_call": round(1e6 * (pg1 - pg0) / TICKS_PER_SECOND / args.pods),
                "wall_us_per_call": round(1e6 * (wall1 - wall0) / args.pods),
            }
        results.append(phases)
        print(f"round {round_no}: {json.dumps(phases)}", flush=True)
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative"))
        stats.print_stats(60)
        if os.environ.get("BENCH_PROFILE_CALLERS"):  # who calls these (a regular expression)
            stats.print_callers(os.environ["BENCH_PROFILE_CALLERS"])
        print(out.getvalue())
    return 0


def cluster_token(cluster_create, ctx) -> str:
    created = cluster_create(ctx=ctx, cluster_id="bench")
    for value in created if isinstance(created, tuple) else (created,):
        if isinstance(value, str):
            return value
    raise SystemExit(f"cluster_create returned no token: {created!r}")


if __name__ == "__main__":
    sys.exit(main())
