"""The load tests' clients: many callers binding and releasing through the API, and what they saw."""

from __future__ import annotations

import http.client
import itertools
import json
import random
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from tests.support.servers import CLUSTER, GATEWAY, REGION, SUBNET


@dataclass
class Call:
    """One HTTP attempt, as the client saw it. status 0: no HTTP answer (connection lost)."""

    op: str
    workload: int
    pod: str
    start: float
    end: float
    status: int
    code: int | None
    msg: str
    ip: str = ""


@dataclass
class Holding:
    """A pod certainly held `ip` from `start` (the end of the answer that gave it) until `end`
    (the start of the first attempt to release it; None while it still holds it)."""

    ip: str
    pod: str
    start: float
    end: float | None = None
    released: bool = False  # a release answered Code 0


# Codes each call may answer in a healthy run, besides Code 0.
ALLOWED = {
    "create": {12},  # subnet exhausted
    "scale": {12, 20},
    "release_pool": set(),
    "require": {12, 20, 30},  # no pool, exhausted, no address left
    "rerequire": {12, 20, 30},
    "release": set(),
}


UNAVAILABLE = 50
WORKLOAD_KINDS = [0, 0, 0, 0, 0, 0, 2, 3, 1, 1]  # Deployments, a Job, a CronJob, StatefulSets


@dataclass
class LoadRun:
    """`threads` clients each make `ops` calls, a random mix on `workloads` workloads, spread over
    the app instances. A call that gets Code 50 or no answer is retried with backoff, as the Go
    clients do, up to `max_attempts`."""

    servers: list[tuple[str, int]]
    token: str
    threads: int = 64
    ops: int = 25
    workloads: int = 10
    seed: int = 20261125
    max_attempts: int = 40
    calls: list[Call] = field(default_factory=list)
    holdings: list[Holding] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    unsure_pods: set[str] = field(default_factory=set)
    done_ops: int = 0

    def __post_init__(self):
        self._workload_of: dict[str, int] = {}
        self._lock = threading.Lock()
        self._counter = itertools.count(1)

    # one HTTP call ---------------------------------------------------------------------------

    def _post(self, rng: random.Random, path: str, body: dict) -> tuple[int, dict | None, float, float]:
        host, port = rng.choice(self.servers)
        start = time.monotonic()
        try:
            conn = http.client.HTTPConnection(host, port, timeout=30)
            conn.request(
                "POST",
                path,
                json.dumps(body),
                {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
            )
            response = conn.getresponse()
            raw = response.read()
            conn.close()
        except (OSError, http.client.HTTPException):
            return 0, None, start, time.monotonic()
        end = time.monotonic()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = {"Code": None, "Msg": f"not JSON: {raw[:200]!r}"}
        return response.status, payload, start, end

    def _call(self, rng, op: str, path: str, body: dict, workload: int, pod: str = "") -> tuple[list[Call], Call]:
        """Call until a definite answer (not 50, not a lost connection) or out of attempts."""
        attempts: list[Call] = []
        for attempt in range(self.max_attempts):
            status, payload, start, end = self._post(rng, path, body)
            payload = payload or {}
            call = Call(op, workload, pod, start, end, status, payload.get("Code"), payload.get("Msg", ""))
            call.ip = payload.get("IP", "") or ""
            attempts.append(call)
            if status == 0 or (status == 503 and call.code == UNAVAILABLE):
                time.sleep(min(0.05 * 2**attempt, 0.5) * rng.uniform(0.5, 1.5))
                continue
            break
        with self._lock:
            self.calls.extend(attempts)
        return attempts, attempts[-1]

    def _check(self, op: str, final: Call) -> bool:
        """True for a definite answer; records anything a healthy service must never answer."""
        if final.status == 0 or final.code == UNAVAILABLE:
            return False
        fine = (final.code == 0 and final.status == 200) or (final.code in ALLOWED[op] and final.status in (404, 409))
        if not fine:
            self._unexpected(f"{op} answered HTTP {final.status} Code {final.code}: {final.msg}")
        return True

    def _unexpected(self, text: str) -> None:
        with self._lock:
            self.unexpected.append(text)

    # the load ---------------------------------------------------------------------------------

    def workload_body(self, index: int) -> dict:
        return {
            "ReqID": f"load-{next(self._counter)}",
            "K8SClusterID": CLUSTER,
            "K8SNamespace": "load",
            "K8SApiResourceKind": WORKLOAD_KINDS[index % len(WORKLOAD_KINDS)],
            "K8SApiResourceName": f"w{index}",
        }

    def _client(self, number: int) -> None:
        rng = random.Random(self.seed * 1000 + number)
        held: list[Holding] = []
        for n in range(self.ops):
            w = rng.randrange(self.workloads)
            op = rng.choices(
                ["require", "release", "rerequire", "create", "scale", "release_pool"], [38, 30, 6, 12, 10, 4]
            )[0]
            if op in ("release", "rerequire") and not held:
                op = "require"
            if op == "require" and len(held) >= 4:
                op = "release"
            if op == "create":
                body = {
                    **self.workload_body(w),
                    "K8SApiResourceReplicas": rng.randint(0, 6),
                    "NetRegionalID": REGION,
                    "SubnetID": SUBNET,
                    "SubnetGatewayAddr": GATEWAY,
                }
                self._check(op, self._call(rng, op, "/v1/ippool/create", body, w)[1])
            elif op == "scale":
                body = {
                    **self.workload_body(w),
                    "K8SApiResourceOldReplicas": 0,
                    "K8SApiResourceNewReplicas": rng.randint(0, 6),
                }
                self._check(op, self._call(rng, op, "/v1/ippool/scale", body, w)[1])
            elif op == "release_pool":
                self._check(op, self._call(rng, op, "/v1/ippool/release", self.workload_body(w), w)[1])
            elif op == "require":
                pod = f"pod-{number}-{n}-{uuid.uuid4().hex[:8]}"
                holding = self._require(rng, op, w, pod)
                if holding:
                    held.append(holding)
            elif op == "rerequire":  # CNI ADD again: the same address, unless the pool was re-created
                pod = rng.choice(held).pod
                known = {h.ip for h in held if h.pod == pod}
                holding = self._require(rng, op, self._workload_of[pod], pod, known)
                if holding:
                    held.append(holding)
            else:  # release
                holding = held.pop(rng.randrange(len(held)))
                body = {
                    **self.workload_body(self._workload_of[holding.pod]),
                    "K8SApiResourceID": "rid",
                    "K8SPodID": holding.pod,
                    "IP": holding.ip,
                }
                attempts, final = self._call(
                    rng, op, "/v1/ip/release", body, self._workload_of[holding.pod], holding.pod
                )
                holding.end = attempts[0].start
                if self._check(op, final):
                    holding.released = final.code == 0
                else:
                    with self._lock:
                        self.unsure_pods.add(holding.pod)
            with self._lock:
                self.done_ops += 1

    def _require(self, rng, op: str, w: int, pod: str, known: set[str] = frozenset()) -> Holding | None:
        """Returns a new holding, or None (refused, unsure, or an address the pod already has)."""
        self._workload_of[pod] = w
        body = {**self.workload_body(w), "K8SApiResourceID": "rid", "K8SPodID": pod}
        attempts, final = self._call(rng, op, "/v1/ip/require", body, w, pod)
        if not self._check(op, final):
            with self._lock:
                self.unsure_pods.add(pod)
            return None
        if any(a.status == 0 or a.code == UNAVAILABLE for a in attempts):
            with self._lock:
                self.unsure_pods.add(pod)  # an earlier attempt may have bound something else
        if final.code != 0 or final.ip in known:
            return None
        holding = Holding(ip=final.ip, pod=pod, start=final.end)
        with self._lock:
            self.holdings.append(holding)
        return holding

    def run(self, timeout: float = 300) -> None:
        workers = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(self.threads)]
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        if any(worker.is_alive() for worker in workers):
            raise AssertionError(f"the load did not finish within {timeout}s")

    def start(self) -> threading.Thread:
        """Run in the background; the caller injects a fault and joins the thread."""
        runner = threading.Thread(target=self.run, daemon=True)
        runner.start()
        return runner

    def wait_for_ops(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.done_ops < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {self.done_ops} of {count} operations done in {timeout}s")
            time.sleep(0.05)

    # what the records prove ------------------------------------------------------------------

    def double_holdings(self) -> list[str]:
        """Pairs of pods that, by the clients' own clocks, certainly held one IP at the same time."""
        by_ip: dict[str, list[Holding]] = defaultdict(list)
        for holding in self.holdings:
            by_ip[holding.ip].append(holding)
        found = []
        for ip, holdings in by_ip.items():
            for a, b in itertools.combinations(holdings, 2):
                a_end = a.end if a.end is not None else float("inf")
                b_end = b.end if b.end is not None else float("inf")
                if a.pod != b.pod and a.start < b_end and b.start < a_end:
                    found.append(f"{ip} held by {a.pod} and {b.pod} at once")
        return found

    def lost_or_leaked(self, bound: set[tuple[str, str]]) -> list[str]:
        """Compare the clients' view with the database: what a pod still holds is bound to it;
        what a release answered 0 for is not."""
        found = []
        for holding in self.holdings:
            if holding.pod in self.unsure_pods:
                continue
            pair = (holding.ip, holding.pod)
            if holding.end is None and pair not in bound:
                found.append(f"{holding.ip} of {holding.pod} is no longer bound (lost)")
            if holding.released and pair in bound:
                found.append(f"{holding.ip} of {holding.pod} is still bound after its release")
        return found

    def summary(self) -> str:
        latencies = sorted(call.end - call.start for call in self.calls)
        codes: dict = defaultdict(int)
        for call in self.calls:
            codes[call.code if call.status else "no answer"] += 1
        return (
            f"{len(self.calls)} calls by {self.threads} clients, {len(self.holdings)} addresses handed out, "
            f"codes {dict(sorted(codes.items(), key=str))}, "
            f"latency p50 {latencies[len(latencies) // 2]:.3f}s max {latencies[-1]:.3f}s"
        )

    def answered(self, code: int) -> list[Call]:
        return [call for call in self.calls if call.code == code]

    def lost_connections(self) -> list[Call]:
        return [call for call in self.calls if call.status == 0]
