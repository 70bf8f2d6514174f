"""Two scenarios of one pool under load, against one or more app instances on one database.

- burst: a Deployment of N replicas comes up: N new pods require an address, M in flight, spread
  over the instances, each retrying Code 50 after 200 ms as a CNI plugin would; then all let go.
- churn: pods come and go on one pool for minutes (require, then release, in a loop); throughput
  is counted per window, to see whether it decays (dead index entries at the head of the idle
  queue, MEASUREMENTS.md)."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

from bench import cpu
from bench.checks import Holding, overlapping_holdings, percentile
from bench.loadgen import call

RETRY_AFTER_S = 0.2  # what a CNI plugin waits before trying a Code 50 again


def workload(name: str) -> dict:
    return {"K8SClusterID": "bench", "K8SNamespace": "bench", "K8SApiResourceKind": 0, "K8SApiResourceName": name}


@dataclass
class PodCalls:
    """What the pods of one phase saw."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # first attempt to success, per pod
    code50: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self, pods: int) -> dict:
        lat = sorted(self.latencies)
        return {
            "pods": pods,
            "seconds": round(self.seconds, 3),
            "pods_per_s": round(len(lat) / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(percentile(lat, 0.5) * 1000, 1),
            "p99_ms": round(percentile(lat, 0.99) * 1000, 1),
            "max_ms": round(lat[-1] * 1000, 1) if lat else 0.0,
            "code50": self.code50,
            "errors": len(self.errors),
            "first_errors": self.errors[:3],
        }


async def _until_not_code50(port: int, path: str, body: dict, token: str, calls: PodCalls) -> dict:
    while True:
        status, answer = await call(port, path, body, token=token)
        if answer.get("Code") != 50:
            if status != 200 or answer.get("Code") != 0:
                raise ValueError(f"{path} {body.get('K8SPodID')}: HTTP {status} {answer}")
            return answer
        calls.code50 += 1
        await asyncio.sleep(RETRY_AFTER_S)


async def _phase(jobs: list, in_flight: int, one, calls: PodCalls) -> list:
    gate = asyncio.Semaphore(in_flight)
    results = []

    async def run(job):
        async with gate:
            started = time.perf_counter()
            try:
                results.append(await one(job))
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                calls.errors.append(str(exc)[:300])
                return
            calls.latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*[run(job) for job in jobs])
    calls.seconds = time.perf_counter() - started
    return results


async def burst(
    ports: list[int], token: str, *, name: str, pods: int, in_flight: int, subnet: dict, meter: cpu.Meter | None = None
) -> dict:
    """A pool of `pods` replicas, then `pods` pods require at once (`in_flight` at a time), then
    all of them release. `subnet`: the create call's NetRegionalID, SubnetID, SubnetGatewayAddr."""
    await _create(ports[0], token, name, pods, subnet)
    instance = itertools.cycle(ports)
    required, released = PodCalls(), PodCalls()

    async def require(pod):
        body = {**workload(name), "K8SPodID": pod, "K8SApiResourceID": "deploy-uid", "ReqID": pod}
        answer = await _until_not_code50(next(instance), "/v1/ip/require", body, token, required)
        return pod, answer["IP"], time.perf_counter()

    async def release(held):
        pod, ip, answered = held
        sent = time.perf_counter()
        body = {**workload(name), "K8SPodID": pod, "K8SApiResourceID": "deploy-uid", "IP": ip, "ReqID": pod}
        await _until_not_code50(next(instance), "/v1/ip/release", body, token, released)
        return Holding(pod=pod, ip=ip, require_answered=answered, release_sent=sent)

    meter = meter or cpu.Meter()
    require_cpu, release_cpu = cpu.Tally(), cpu.Tally()
    with meter.counting(require_cpu):
        held = await _phase([f"{name}-pod-{n}" for n in range(pods)], in_flight, require, required)
    with meter.counting(release_cpu):
        holdings = await _phase(held, in_flight, release, released)
    await _release_pool(ports[0], token, name)
    return {
        "instances": len(ports),
        "in_flight": in_flight,
        # per call made, Code 50 retries included
        "require": {**required.summary(pods), **require_cpu.per_call(pods + required.code50)},
        "release": {**released.summary(pods), **release_cpu.per_call(pods + released.code50)},
        "distinct_ips": len({ip for _, ip, _ in held}),
        "duplicates": len(overlapping_holdings(holdings)),
    }


async def churn(
    ports: list[int],
    token: str,
    *,
    name: str,
    pool_size: int,
    clients: int,
    seconds: float,
    window: float,
    subnet: dict,
    meter: cpu.Meter | None = None,
) -> dict:
    """`clients` pods at a time each require and then release, over and over, for `seconds`, on one
    pool of `pool_size`; pairs completed are counted per `window` seconds."""
    await _create(ports[0], token, name, pool_size, subnet)
    instance = itertools.cycle(ports)
    counter = itertools.count()
    started = time.perf_counter()
    deadline = started + seconds
    windows: list[int] = [0] * int(seconds // window + 1)
    holdings: list[Holding] = []
    errors: list[str] = []

    async def client():
        while time.perf_counter() < deadline:
            pod = f"{name}-pod-{next(counter)}"
            body = {**workload(name), "K8SPodID": pod, "K8SApiResourceID": "rid", "ReqID": pod}
            try:
                status, answer = await call(next(instance), "/v1/ip/require", body, token=token)
                if answer.get("Code") != 0:
                    errors.append(f"require HTTP {status} {answer}"[:300])
                    continue
                answered = time.perf_counter()
                sent = time.perf_counter()
                status, done = await call(next(instance), "/v1/ip/release", {**body, "IP": answer["IP"]}, token=token)
                if done.get("Code") != 0:
                    errors.append(f"release HTTP {status} {done}"[:300])
                    continue
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                errors.append(str(exc)[:300])
                continue
            holdings.append(Holding(pod=pod, ip=answer["IP"], require_answered=answered, release_sent=sent))
            slot = int((time.perf_counter() - started) // window)
            if slot < len(windows):
                windows[slot] += 1

    meter = meter or cpu.Meter()
    pair_cpu = cpu.Tally()
    with meter.counting(pair_cpu):
        await asyncio.gather(*[client() for _ in range(clients)])
    await _release_pool(ports[0], token, name)
    full = windows[: int(seconds // window)]  # drop the partial last window
    per_second = [round(n / window, 1) for n in full]
    return {
        "instances": len(ports),
        "clients": clients,
        "pool_size": pool_size,
        "seconds": seconds,
        "pairs": len(holdings),
        "pairs_per_s_by_window": per_second,
        "first_window_per_s": per_second[0] if per_second else 0.0,
        "last_window_per_s": per_second[-1] if per_second else 0.0,
        "last_vs_first_pct": round(100 * per_second[-1] / per_second[0], 1) if per_second and per_second[0] else 0,
        "errors": len(errors),
        "first_errors": errors[:3],
        "duplicates": len(overlapping_holdings(holdings)),
        "cpu_per_call": pair_cpu.per_call(2 * len(holdings) + len(errors)),
    }


async def _create(port: int, token: str, name: str, replicas: int, subnet: dict) -> None:
    body = {**workload(name), "K8SApiResourceReplicas": replicas, **subnet}
    status, answer = await call(port, "/v1/ippool/create", body, token=token)
    if answer.get("Code") != 0:
        raise SystemExit(f"create {name}: HTTP {status} {answer}")


async def _release_pool(port: int, token: str, name: str) -> None:
    status, answer = await call(port, "/v1/ippool/release", workload(name), token=token)
    if answer.get("Code") != 0:
        raise SystemExit(f"release pool {name}: HTTP {status} {answer}")
