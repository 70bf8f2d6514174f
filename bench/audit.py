#!/usr/bin/env python3
"""The audit log at scale (issue 12): reads of a big audit table, and what they cost the writers.

    .venv/bin/python bench/audit.py --audit-rows 10000000 --keep-db    # the documented run
    .venv/bin/python bench/audit.py --smoke                            # CI: tiny, under a minute

It makes its own PostgreSQL database (`ipresmgr_bench_audit`; `--database-url`), migrates it,
registers the benchmark's cluster and subnets (bench/database.py's set-up), and fills the audit table by
SQL with `--audit-rows` realistic events: 90 days, oldest first; 90 % RequireIP/ReleaseIP pairs of
five clusters' pods, the rest pool calls, a few percent refusals (Codes 20, 30, 12, 31), a Code 11
now and then on the third day only (a rare, old value), and a few admin changes. `--keep-db` keeps
it; a later run on the same URL with `--reuse` skips the fill when the table already holds about
that many rows, and only migrates (to measure a version before and after its migration on the same
rows, pass `--app-root` the older checkout first).

Then, against gunicorn serving that database (bench/gunicorn.conf.py), each read is timed
`--repeat` times, one after the other (p50 and max): the console's audit list (plain, filtered,
searched, a deep page), who-held, `/v1/events` with each filter and with a cluster token, a deep
page (by Offset, and by the Cursor of Next where the server pages by keyset); then `prune_audit` of
the oldest day, when the served checkout has that command, with RequireIP's latency during it; then
RequireIP p50/p99 (bench/levels.py's level: `--clients` pods requiring and releasing) alone and with
`--readers` clients reading /v1/events without pause. Prints the numbers; `--json` writes them."""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import database, levels, server  # noqa: E402
from bench.checks import percentile  # noqa: E402
from bench.loadgen import HOST, call, get  # noqa: E402

DAYS = 90
CLUSTERS = ["bench", "prod-1", "prod-2", "prod-3", "prod-4"]  # "bench" is the cluster token's
ADMIN_USER, ADMIN_PASSWORD = "bench-admin", "bench-admin-password-1"  # noqa: S105 (a throwaway database)
AUDIT_TABLE = "pools_auditevent"

# One statement per chunk of rows g (1..N, oldest first). Row g's place in its kind is g % 1000:
# 0-449 RequireIP, 450-899 the ReleaseIP of the same pod, 900-959 pool calls, 960-994 refusals,
# 995-998 more RequireIPs, 999 an admin change (or a Code 11 create on the third day).
FILL_SQL = f"""
INSERT INTO {AUDIT_TABLE}
    (at, req_type, admin_action, req_id, k8s_cluster_id, namespace, kind, name, pod_id, ip, subnet_id,
     code, msg, actor, detail)
SELECT
    %(start)s::timestamptz + (g::float8 / %(rows)s::bigint) * interval '{DAYS} days',
    CASE WHEN r = 999 AND NOT old THEN NULL
         WHEN r = 999 OR r BETWEEN 900 AND 929 THEN 0
         WHEN r BETWEEN 930 AND 944 THEN 2
         WHEN r BETWEEN 945 AND 959 THEN 1
         WHEN r BETWEEN 450 AND 899 THEN 4
         ELSE 3 END,
    CASE WHEN r = 999 AND NOT old THEN 'subnet_grant' ELSE '' END,
    'req-' || g,
    (ARRAY{CLUSTERS!r})[1 + (p % {len(CLUSTERS)})],
    'ns-' || (p % 23),
    (p % 7 = 0)::int,
    'app-' || (p % 701),
    CASE WHEN r < 900 OR r BETWEEN 960 AND 998 THEN 'pod-' || p ELSE '' END,
    CASE WHEN r < 900 OR r BETWEEN 995 AND 998 THEN ip ELSE '' END,
    CASE WHEN r >= 900 AND r < 960 OR r = 999 THEN 'bench-fill-' || (p % 2) ELSE '' END,
    CASE WHEN r = 999 AND old THEN 11
         WHEN r BETWEEN 960 AND 979 THEN 20
         WHEN r BETWEEN 980 AND 989 THEN 30
         WHEN r BETWEEN 990 AND 992 THEN 12
         WHEN r BETWEEN 993 AND 994 THEN 31
         ELSE 0 END,
    CASE WHEN r < 450 OR r BETWEEN 995 AND 998 THEN 'idle address bound'
         WHEN r < 900 THEN 'released ' || ip
         WHEN r < 960 THEN 'pool scaled: target 3, 3 addresses reserved'
         ELSE 'refused' END,
    'cluster ' || (ARRAY{CLUSTERS!r})[1 + (p % {len(CLUSTERS)})] || ' token ipr_AbCdEfGh',
    '{{}}'::jsonb
FROM (
    SELECT g, g % 1000 AS r,
           -- the pod: a RequireIP and its ReleaseIP (450 rows later) name the same one
           (g / 1000) * 450 + (g % 1000) % 450 AS p,
           g BETWEEN 2 * %(rows)s::bigint / {DAYS} AND 3 * %(rows)s::bigint / {DAYS} AS old,
           '10.' || (((g / 1000) * 450 + (g % 1000) % 450) / 65536 % 4) || '.'
               || (((g / 1000) * 450 + (g % 1000) % 450) / 256 % 256) || '.'
               || (((g / 1000) * 450 + (g % 1000) % 450) % 256) AS ip
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
) AS rows
""".replace(" % ", " %% ")  # modulo, not a placeholder


# The database ------------------------------------------------------------------------------------


def audit_rows(database_url: str) -> int | None:
    """Rows in the audit table (the planner's figure, fresh after ANALYZE), or None without one."""
    import psycopg

    try:
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [AUDIT_TABLE]).fetchone()
            return row[0] if row else None
    except psycopg.OperationalError:
        return None


def insert_events(cursor, *, rows: int, first: int, last: int, start) -> None:
    """Rows `first`..`last` of a fill of `rows` events from `start` (a psycopg or Django cursor on
    PostgreSQL; tests/contract/test_bounded_reads.py fills its small table the same way)."""
    cursor.execute(FILL_SQL, {"start": start, "rows": rows, "first": first, "last": last})


def fill(database_url: str, rows: int, chunk: int = 1_000_000) -> float:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as conn:
        start = conn.execute(f"SELECT now() - interval '{DAYS} days'").fetchone()[0]
        for first in range(1, rows + 1, chunk):
            last = min(rows, first + chunk - 1)
            insert_events(conn.cursor(), rows=rows, first=first, last=last, start=start)
            print(f"-- filled {last:,} of {rows:,} audit rows ({time.perf_counter() - started:.0f} s)", flush=True)
        conn.execute(f"VACUUM ANALYZE {AUDIT_TABLE}")
    return time.perf_counter() - started


def table_size(database_url: str) -> dict:
    import psycopg

    with psycopg.connect(database_url) as conn:
        heap, indexes = conn.execute(
            "SELECT pg_table_size(%s), pg_indexes_size(%s)", [AUDIT_TABLE, AUDIT_TABLE]
        ).fetchone()
        names = [r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [AUDIT_TABLE])]
    return {"heap_mib": round(heap / 2**20), "indexes_mib": round(indexes / 2**20), "indexes": sorted(names)}


def sample_values(database_url: str) -> dict:
    """Values the reads ask for: an IP and a pod of a day ago, the time 500,000 rows deep."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        ip, pod, at = conn.execute(
            f"SELECT ip, pod_id, at FROM {AUDIT_TABLE} WHERE at < now() - interval '1 day' AND req_type = 3 "
            "AND code = 0 ORDER BY at DESC, id DESC LIMIT 1"
        ).fetchone()
        deep = conn.execute(
            f"SELECT at FROM {AUDIT_TABLE} ORDER BY at DESC, id DESC OFFSET %s LIMIT 1", [DEEP_ROWS]
        ).fetchone()
    return {"ip": ip, "pod": pod, "at": at, "deep_at": deep[0] if deep else None}


DEEP_ROWS = 500_000


# Timing ------------------------------------------------------------------------------------------


def login(port: int) -> str:
    """The console's session cookie for the benchmark's superuser."""
    conn = http.client.HTTPConnection(HOST, port)
    conn.request("GET", "/admin/login/")
    page = conn.getresponse()
    body = page.read().decode()
    csrf_cookie = re.search(r"csrftoken=([^;]+)", page.getheader("Set-Cookie", "")).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": ADMIN_USER, "password": ADMIN_PASSWORD, "next": "/admin/"}
    )
    conn.request(
        "POST",
        "/admin/login/",
        form,
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf_cookie}"},
    )
    answer = conn.getresponse()
    answer.read()
    session = re.search(r"sessionid=([^;]+)", answer.getheader("Set-Cookie", "") or "")
    if answer.status != 302 or not session:
        raise SystemExit(f"console login failed: HTTP {answer.status}")
    return f"csrftoken={csrf_cookie}; sessionid={session.group(1)}"


async def timed(port: int, path: str, repeat: int, **auth) -> dict:
    """`repeat` GETs one after the other: p50 and max ms, and what the last one answered."""
    latencies = []
    for _ in range(repeat):
        started = time.perf_counter()
        status, headers, body = await get(port, path, **auth)
        latencies.append(time.perf_counter() - started)
    result = {"p50_ms": round(percentile(sorted(latencies), 0.5) * 1000, 1), "max_ms": round(max(latencies) * 1000, 1)}
    result["http"] = status
    if headers.get("content-type", "").startswith("application/json"):
        answer = json.loads(body)
        result.update({k: answer[k] for k in ("Code", "Count", "CountExact") if k in answer})
        if answer.get("Code"):
            result["Msg"] = answer.get("Msg", "")[:120]
    elif status == 302:
        result["location"] = headers.get("location", "")
    return result


def event_reads(values: dict) -> dict[str, str]:
    """The /v1/events calls that are timed (operator token unless the name says otherwise)."""
    day_ago = values["at"]
    window = {
        "Since": (day_ago.replace(microsecond=0) - _hours(1)).isoformat(),
        "Until": (day_ago.replace(microsecond=0) + _hours(1)).isoformat(),
    }
    return {
        "newest page (Limit=100)": {"Limit": 100},
        "newest page, cluster token": {"Limit": 100, "_token": "cluster"},
        "K8SClusterID=prod-2": {"K8SClusterID": "prod-2"},
        "K8SNamespace=ns-7": {"K8SNamespace": "ns-7"},
        "K8SNamespace=ns-7, cluster token": {"K8SNamespace": "ns-7", "_token": "cluster"},
        "K8SApiResourceName=app-42": {"K8SApiResourceName": "app-42"},
        "K8SApiResourceKind=1": {"K8SApiResourceKind": 1},
        "ReqType=0 (CreateIPPool)": {"ReqType": 0},
        "ReqType=3 (RequireIP)": {"ReqType": 3},
        "Code=30 (refusals)": {"Code": 30},
        "Code=11 (rare, all old)": {"Code": 11},
        "Code=11, cluster token": {"Code": 11, "_token": "cluster"},
        "SubnetID=bench-fill-1": {"SubnetID": "bench-fill-1"},
        "K8SPodID=<a pod>": {"K8SPodID": values["pod"]},
        "ReqID=req-12345": {"ReqID": "req-12345"},
        "IP=<an IP>&Since&Until (who held, API)": {"IP": values["ip"], **window},
        "Since&Until (2 h a day ago)": window,
        f"Offset={DEEP_ROWS:,}": {"Offset": DEEP_ROWS},
    }


def _hours(n: int):
    from datetime import timedelta

    return timedelta(hours=n)


def _path(base: str, params: dict) -> str:
    return base + "?" + urllib.parse.urlencode({k: v for k, v in params.items() if not k.startswith("_")})


async def time_reads(port: int, tokens: dict, values: dict, repeat: int) -> dict:
    results: dict[str, dict] = {}
    cookie = login(port)
    console = "/admin/audit/auditevent/"
    console_reads = {
        "console: audit list": {},
        "console: filtered code=12": {"code__exact": 12},
        "console: filtered cluster + namespace": {"k8s_cluster_id": "prod-2", "namespace": "ns-7"},
        "console: filtered admin action": {"admin_action__exact": "subnet_grant"},
        "console: searched (an IP)": {"q": values["ip"]},
        "console: page 10": {"p": 10},
        f"console: page {DEEP_ROWS // 100:,} ({DEEP_ROWS:,} rows deep)": {"p": DEEP_ROWS // 100},
    }
    for name, params in console_reads.items():
        results[name] = await timed(port, _path(console, params), repeat, cookie=cookie)
        print(f"   {name:55} {results[name]}", flush=True)
    at = values["at"].strftime("%Y-%m-%d %H:%M")
    name = "console: who held (IP at a time a day ago)"
    results[name] = await timed(
        port, _path(console + "who-held/", {"ip": values["ip"], "at": at}), repeat, cookie=cookie
    )
    print(f"   {name:55} {results[name]}", flush=True)
    for name, params in event_reads(values).items():
        token = tokens[params.get("_token", "operator")]
        results[name] = await timed(port, _path("/v1/events", params), repeat, token=token)
        print(f"   /v1/events {name:44} {results[name]}", flush=True)
    # Keyset paging: the Next of a page that ends DEEP_ROWS deep, without the filter that put it there.
    if values["deep_at"] is not None:
        status, _, body = await get(
            port, _path("/v1/events", {"Limit": 1, "Until": values["deep_at"].isoformat()}), token=tokens["operator"]
        )
        following = json.loads(body).get("Next") or ""
        if "Cursor=" in following:
            url = urllib.parse.urlsplit(following)
            query = {k: v for k, v in urllib.parse.parse_qsl(url.query) if k not in ("Until", "Limit")}
            name = f"Cursor {DEEP_ROWS:,} rows deep (Next)"
            results[name] = await timed(port, _path("/v1/events", query), repeat, token=tokens["operator"])
            print(f"   /v1/events {name:44} {results[name]}", flush=True)
    return results


async def require_latency(port: int, token: str, args, *, readers: int, reader_tokens: dict, values: dict) -> dict:
    """RequireIP and ReleaseIP as bench/levels.py's level measures them, while `readers` clients read
    /v1/events one call after another (cycling through the timed reads)."""
    stop = asyncio.Event()
    reads = [(_path("/v1/events", p), reader_tokens[p.get("_token", "operator")]) for p in event_reads(values).values()]
    done_reads = []

    async def reader(k: int):
        n = k
        while not stop.is_set():
            path, token_ = reads[n % len(reads)]
            started = time.perf_counter()
            status, _, _ = await get(port, path, token=token_)
            done_reads.append((status, time.perf_counter() - started))
            n += 1

    tasks = [asyncio.create_task(reader(k)) for k in range(readers)]
    try:
        level = await levels.run_level(
            port,
            token,
            f"req-{readers}r-{int(time.time())}",
            concurrency=args.clients,
            ops=args.ops,
            rounds=args.rounds,
            pools=2,
            max_seconds=600,
        )
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    reads_ms = sorted(seconds for _, seconds in done_reads)
    return {
        "readers": readers,
        "require": level["require"],
        "release": level["release"],
        "duplicates": level["duplicates"],
        "reads": len(done_reads),
        "reads_by_status": {s: sum(1 for st, _ in done_reads if st == s) for s in {st for st, _ in done_reads}},
        "read_p50_ms": round(percentile(reads_ms, 0.5) * 1000, 1) if reads_ms else None,
    }


def prune_oldest_days(env: dict, root: Path, port: int, token: str, days: int = 1) -> dict | str:
    """`manage.py prune_audit --older-than 89` (the oldest of the 90 days; `days` of them), timed,
    while one client requires and releases without pause (the longest wait it saw)."""
    probe = subprocess.run(
        [sys.executable, "manage.py", "help", "prune_audit"], cwd=root, env=env, capture_output=True, check=False
    )
    if probe.returncode != 0:
        return "skipped (no prune_audit)"

    async def prune_under_load():
        command = [sys.executable, "manage.py", "prune_audit", "--older-than", str(DAYS - days)]
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            *command, cwd=root, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        waits = []
        pod = 0
        body = levels.workload("prune-load")
        await levels.create_pool(port, token, "prune-load", 1, database.HOT_SUBNET)
        while proc.returncode is None:
            pod += 1
            for path, extra in (("/v1/ip/require", {}), ("/v1/ip/release", {"IP": ""})):
                sent = time.perf_counter()
                await call(port, path, {**body, "K8SPodID": f"prune-pod-{pod}", "K8SApiResourceID": "r", **extra},
                           token=token)  # fmt: skip
                waits.append(time.perf_counter() - sent)
            try:
                await asyncio.wait_for(proc.wait(), timeout=0.01)
            except TimeoutError:
                pass
        out, err = await proc.communicate()
        seconds = time.perf_counter() - started
        await levels.release_pool(port, token, "prune-load")
        waits.sort()
        return {
            "exit_code": proc.returncode,
            "seconds": round(seconds, 1),
            "calls_meanwhile": len(waits),
            "call_p99_ms": round(percentile(waits, 0.99) * 1000, 1),
            "call_max_ms": round(waits[-1] * 1000, 1) if waits else None,
            "output": (out.decode().strip() or err.decode().strip())[-300:],
        }

    return asyncio.run(prune_under_load())


# The run -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_AUDIT_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ipresmgr_bench_audit"),
    )
    parser.add_argument("--audit-rows", type=int, default=10_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep an already filled database of about that size")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--app-root", type=Path, default=database.ROOT, help="the checkout to migrate and serve")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8410)))
    parser.add_argument("--repeat", type=int, default=5, help="times each read is timed")
    parser.add_argument("--clients", type=int, default=2, help="pods requiring at once in the RequireIP runs")
    parser.add_argument("--readers", type=int, default=4, help="clients reading /v1/events meanwhile")
    parser.add_argument("--ops", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-prune", action="store_true", help="leave the oldest day (prune_audit) alone")
    parser.add_argument(
        "--prune-days",
        type=int,
        default=1,
        help="how many of the oldest days prune_audit deletes (a large cluster's day, 1.7M events, is ~77 "
        "days of a 2M-row fill)",
    )
    parser.add_argument("--no-reads", action="store_true", help="only the fill and the prune")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--smoke", action="store_true", help="a tiny run (CI): that it works, not how fast")
    args = parser.parse_args()
    if args.smoke:
        args.audit_rows, args.repeat, args.ops, args.rounds = 20_000, 1, 50, 1
    root = args.app_root.resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    env.update(
        {
            "DATABASE_URL": args.database_url,
            "LOG_LEVEL": "ERROR",
            "IPRESMGR_CALL_LOG_LEVEL": "WARNING",
            "IPRESMGR_SECRET_KEY": "bench-" + os.urandom(16).hex(),
        }
    )
    report: dict = {"command": " ".join(sys.argv), "app_root": str(root), "audit_rows": args.audit_rows}
    existing = audit_rows(args.database_url) if args.reuse else None
    fresh = existing is None or existing < 0.95 * args.audit_rows  # a pruned day still counts as filled
    try:
        if fresh:
            database.recreate_database(args.database_url)
            tokens = {"cluster": database.setup_database(env, root=root)}
            database.manage(
                {**env, "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD},
                "createsuperuser",
                "--no-input",
                "--username",
                ADMIN_USER,
                "--email",
                "bench@example.com",
                root=root,
            )
            report["fill_seconds"] = round(fill(args.database_url, args.audit_rows), 1)
        else:
            print(f"-- reusing {existing:,} audit rows", flush=True)
            tokens = {"cluster": database.manage(env, "create_token", "--cluster-id", "bench", root=root).split()[-1]}
        started = time.perf_counter()
        database.manage({**env, "IPRESMGR_DB_STATEMENT_TIMEOUT_MS": "0"}, "migrate", "--no-input", "-v0", root=root)
        report["migrate_seconds"] = round(time.perf_counter() - started, 1)
        print(f"-- migrate: {report['migrate_seconds']} s", flush=True)
        tokens["operator"] = database.manage(env, "create_token", "--operator", root=root).split()[-1]
        report["table"] = table_size(args.database_url)
        values = sample_values(args.database_url)
        print(f"-- audit table: {report['table']}", flush=True)
        with server.gunicorn(env, args.port, workers=2, threads=4, worker_class="gthread", root=root):
            report["reads"] = {} if args.no_reads else asyncio.run(time_reads(args.port, tokens, values, args.repeat))
            report["require"] = []
            for readers in () if args.no_reads else (0, args.readers):
                result = asyncio.run(
                    require_latency(
                        args.port, tokens["cluster"], args, readers=readers, reader_tokens=tokens, values=values
                    )
                )
                report["require"].append(result)
                print(f"-- RequireIP with {readers} readers: {json.dumps(result)}", flush=True)
            if not args.no_prune:
                report["prune_one_day"] = prune_oldest_days(env, root, args.port, tokens["cluster"], args.prune_days)
                print(f"-- prune_audit of the oldest {args.prune_days} day(s): {report['prune_one_day']}", flush=True)
    finally:
        if not args.keep_db:
            database.recreate_database(args.database_url, drop_only=True)
    print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
    problems = [r for r in report["require"] if r["require"]["errors"] or r["release"]["errors"] or r["duplicates"]]
    if problems or any(r.get("http", 200) >= 500 for r in report["reads"].values()):
        print("FAILED: RequireIP errors or duplicates, or a read answered 5xx")
        return 1
    return 0


def print_report(report: dict) -> None:
    print(f"\naudit rows: {report['audit_rows']:,}; table: {report['table']}; served: {report['app_root']}")
    print(f"{'read':70} {'p50 ms':>8} {'max ms':>8}  answer")
    for name, r in report["reads"].items():
        answer = {k: v for k, v in r.items() if k not in ("p50_ms", "max_ms")}
        print(f"{name:70} {r['p50_ms']:>8.1f} {r['max_ms']:>8.1f}  {answer}")
    for r in report["require"]:
        rq = r["require"]
        print(
            f"RequireIP with {r['readers']} readers: p50 {rq['p50_ms']} ms, p99 {rq['p99_ms']} ms, "
            f"{rq['per_second']}/s; reads done {r['reads']} {r['reads_by_status']} (p50 {r['read_p50_ms']} ms)"
        )
    if "prune_one_day" in report:
        print(f"prune_audit of one day: {report['prune_one_day']}")


if __name__ == "__main__":
    sys.exit(main())
