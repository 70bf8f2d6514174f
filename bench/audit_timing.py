"""What bench/audit.py times: the console's and /v1/events' reads of the audit log, RequireIP while
clients read it, and pruning the oldest days under load."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from bench import database, levels
from bench.audit_table import DAYS, DEEP_ROWS
from bench.checks import percentile
from bench.loadgen import HOST, call, get

# The console's superuser, created by bench/audit.py for the reads that log in.
ADMIN_USER, ADMIN_PASSWORD = "bench-admin", "bench-admin-password-1"  # noqa: S105 (a throwaway database)


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
