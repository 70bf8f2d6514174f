"""One level of load: the contract calls a pool's pods make (create, scale, require, release), driven
at a concurrency, with every hold checked for overlap; and the fill of other pools around it."""

from __future__ import annotations

import os
import time

from bench import cpu
from bench.checks import Holding, overlapping_holdings
from bench.database import FILL_SUBNETS, HOT_SUBNET, REGION
from bench.loadgen import Phase, call, drive
from bench.machine import cpu_busy_jiffies

FILL_POOL_MAX = 10_000
FILL_POOLS_PER_SUBNET = 6


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


async def pool_operations(port: int, token: str, tag: str) -> dict:
    create_5000 = await create_pool(port, token, f"create-{tag}", 5000, HOT_SUBNET)
    await create_pool(port, token, f"scale-{tag}", 0, HOT_SUBNET)
    scale_10000 = await scale_pool(port, token, f"scale-{tag}", 10_000)
    for name in (f"create-{tag}", f"scale-{tag}"):
        await release_pool(port, token, name)
    result = {"create_5000_s": round(create_5000, 3), "scale_0_to_10000_s": round(scale_10000, 3)}
    print(f"-- pool operations ({tag}): {result}", flush=True)
    return result
