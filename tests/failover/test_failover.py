"""Database failover with real servers: a PostgreSQL 15 primary and a streaming standby made by the
test, two gunicorn instances in front of them through libpq's multi-host URLs (one instance per
form), 16 clients that retry Code 50 as the Go clients do and keep timed records of what they hold.

- the primary killed (SIGKILL) under load, the standby promoted: during the gap only 503 / Code 50,
  Code 0 again within 2 s of the promotion, nothing acknowledged lost (synchronous replication),
  the failover counted; then the old primary back as a standby: 503 and /readyz 503 for an
  instance still pointed at it alone;
- the synchronous standby stalled (SIGSTOP of its walreceiver): every call answered within the
  call timeout with Code 50, /healthz answered throughout; Code 0 again once it resumes;
- asynchronous replication with the standby behind at the crash: acknowledged bindings lost,
  counted, then restored by `reconcile --from-json --apply` from kubectl-format JSON built from
  what the clients hold (docs/failover.md).

Each prints a FIGURES line (docs/benchmarks.md, "Database failover")."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid

import pytest

from contract.framework.envelope import OUTCOME_UNKNOWN_MSG, READ_ONLY_MSG
from tests.failover.cluster import (
    Prober,
    both_url_forms,
    failovers_counted,
    get,
    instance_env,
    post,
    primary_server,
    standby_of,
    start_instance,
    wait_for,
)
from tests.support.failover import assert_only_unavailable_or_definite, figures
from tests.support.kube import cronjob, deployment, job, kubectl_list, pod, replicaset, statefulset, write_json
from tests.support.load import WORKLOAD_KINDS, LoadRun
from tests.support.servers import CLUSTER, GATEWAY, REGION, SUBNET, bound_pairs, manage, prepare_database

CALL_TIMEOUT_S = 3.0  # IPRESMGR_DB_CALL_TIMEOUT_MS of the stall scenario (8 s by default)
RECOVERY_BOUND_S = 2.0  # SPEC: Code 0 again within 2 s of a writable primary
SLACK_S = 2.5  # the watchdog's tick, the cancel's round trip and a noisy shared machine


@pytest.fixture
def cleanup():
    things: list = []
    yield things
    for thing in reversed(things):
        try:
            thing.remove() if hasattr(thing, "remove") else thing.stop()
        except Exception as exc:  # noqa: BLE001 - clean up the rest whatever this one did
            print(f"cleanup of {thing}: {exc}")


def call_lines(instance) -> list[dict]:
    """The instance's /v1 call log lines (JSON) from its log file."""
    lines = []
    for raw in instance.log_path.read_text().splitlines():
        if '"ipresmgr.calls"' in raw:
            try:
                lines.append(json.loads(raw))
            except ValueError:
                pass
    return lines


def workload(name: str) -> dict:
    return {"K8SClusterID": CLUSTER, "K8SNamespace": "failover", "K8SApiResourceKind": 0, "K8SApiResourceName": name}


def create_pool(server, token: str, name: str, replicas: int) -> None:
    body = {
        "ReqID": f"create-{name}",
        **workload(name),
        "K8SApiResourceReplicas": replicas,
        "NetRegionalID": REGION,
        "SubnetID": SUBNET,
        "SubnetGatewayAddr": GATEWAY,
    }
    answer = post(server, "/v1/ippool/create", body, token)
    assert answer.body["Code"] == 0, answer


def require(server, token: str, name: str, pod: str, timeout: float = 30):
    body = {"ReqID": f"req-{pod}", **workload(name), "K8SApiResourceID": "rid", "K8SPodID": pod}
    return post(server, "/v1/ip/require", body, token, timeout=timeout)


def test_primary_killed_under_load_and_promoted_then_the_old_primary_back_read_only(tmp_path, cleanup):
    primary = primary_server()
    cleanup.append(primary)
    primary.set("synchronous_standby_names", "standby1")
    standby = standby_of(primary)
    cleanup.append(standby)
    wait_for(lambda: primary.sql("SELECT sync_state FROM pg_stat_replication")[0][0] == "sync")

    envs = [instance_env(url, tmp_path) for url in both_url_forms(primary, standby)]
    token = prepare_database(envs[0])
    instances = [start_instance(env, tmp_path / f"gunicorn-{n}.log") for n, env in enumerate(envs)]
    cleanup.extend(instances)

    load = LoadRun(servers=[i.base for i in instances], token=token, threads=16, ops=50, workloads=8, max_attempts=80)
    runner = load.start()
    load.wait_for_ops(200)
    killed_at = time.monotonic()
    primary.kill9()
    time.sleep(1.0)  # what a failover manager takes at least to decide
    # Writable somewhere between the start of `pg_ctl promote` and its return (it polls): the gap
    # ends at its start, recovery is measured from its start too (so never flattered).
    promoted_at = time.monotonic()
    standby.promote()
    assert not standby.in_recovery()
    runner.join(240)
    assert not runner.is_alive()
    print(load.summary())

    assert_only_unavailable_or_definite(load)
    assert load.done_ops == load.threads * load.ops
    gap = [c for c in load.calls if killed_at <= c.start and c.end <= promoted_at]
    assert gap and all(c.status == 503 and c.code == 50 for c in gap), [(c.status, c.code) for c in gap[:10]]
    first_ok = min(c.end for c in load.calls if c.start >= promoted_at and c.code == 0)
    late_unavailable = [c for c in load.calls if c.code == 50 and c.start > promoted_at + RECOVERY_BOUND_S]
    assert first_ok - promoted_at < RECOVERY_BOUND_S
    assert not late_unavailable, [(c.start - promoted_at, c.msg) for c in late_unavailable[:10]]
    # Synchronous replication: the promoted database holds every acknowledged binding.
    bound = bound_pairs(envs[0])
    assert load.lost_or_leaked(bound) == []
    assert load.double_holdings() == []
    check = manage(envs[0], "check_consistency", check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    counted = [failovers_counted(i) for i in instances]
    assert all(n >= 1 for n in counted), counted
    unavailable_after_kill = [c for c in load.calls if c.code == 50 and c.start >= killed_at]
    figures(
        "kill-and-promote-sync",
        seconds_kill_to_promotion=round(promoted_at - killed_at, 2),
        seconds_promotion_to_first_code_0=round(first_ok - promoted_at, 3),
        seconds_promotion_to_last_code_50=round(max(c.end for c in unavailable_after_kill) - promoted_at, 3),
        answers_code_50_during_gap=len(gap),
        acknowledged_bindings_lost=0,
        failovers_counted=counted,
        calls=len(load.calls),
    )

    # The old primary comes back as a standby (a demoted primary). An instance pointed at it alone
    # (a stale address) answers 503 and is not ready; the multi-host ones stay on the new primary.
    primary.become_standby_of(standby)
    primary.start()
    assert primary.in_recovery()
    stale = start_instance(instance_env(primary.url("ipam"), tmp_path), tmp_path / "gunicorn-stale.log", workers=1)
    cleanup.append(stale)
    refused = require(stale, token, "w0", "pod-stale")
    assert (refused.status, refused.body["Code"]) == (503, 50), refused
    assert refused.body["Msg"] in (READ_ONLY_MSG, "database unavailable or busy; retry")
    assert get(stale, "/readyz").status == 503
    assert get(stale, "/healthz").status == 200
    for instance in instances:
        assert get(instance, "/readyz").status == 200
    create_pool(instances[0], token, "after-demotion", 1)
    assert require(instances[1], token, "after-demotion", "pod-after").body["Code"] == 0


def test_stalled_synchronous_standby_then_lost_commits_with_asynchronous_replication(tmp_path, cleanup):
    primary = primary_server()
    cleanup.append(primary)
    primary.set("synchronous_standby_names", "standby1")
    standby = standby_of(primary)
    cleanup.append(standby)
    wait_for(lambda: primary.sql("SELECT sync_state FROM pg_stat_replication")[0][0] == "sync")
    envs = [
        instance_env(url, tmp_path, IPRESMGR_DB_CALL_TIMEOUT_MS=str(int(CALL_TIMEOUT_S * 1000)))
        for url in both_url_forms(primary, standby)
    ]
    token = prepare_database(envs[0])
    instances = [start_instance(env, tmp_path / f"gunicorn-{n}.log") for n, env in enumerate(envs)]
    cleanup.extend(instances)
    create_pool(instances[0], token, "stall", 200)

    # The standby stalls: every commit waits for it. 16 callers, more than the 2 x 4 threads.
    walreceiver = standby.child_named("walreceiver")
    answers: list = []
    lock = threading.Lock()
    stop = threading.Event()

    def caller(n: int) -> None:
        while not stop.is_set():
            answer = require(instances[n % 2], token, "stall", f"stall-{n}-{uuid.uuid4().hex[:6]}")
            with lock:
                answers.append(answer)

    probers = [Prober(i) for i in instances]
    os.kill(walreceiver, signal.SIGSTOP)
    stalled_at = time.monotonic()
    callers = [threading.Thread(target=caller, args=(n,), daemon=True) for n in range(16)]
    try:
        for thread in callers:
            thread.start()
        time.sleep(2 * CALL_TIMEOUT_S + 2)
        stop.set()
        for thread in callers:
            thread.join(CALL_TIMEOUT_S + 30)
    finally:
        os.kill(walreceiver, signal.SIGCONT)
    resumed_at = time.monotonic()
    probes = [answer for prober in probers for answer in prober.stop()]

    assert answers
    assert all(a.status == 503 and a.body.get("Code") == 50 for a in answers), [(a.status, a.body) for a in answers[:5]]
    assert any(a.body["Msg"] == OUTCOME_UNKNOWN_MSG for a in answers)
    # Server side, each call holds its worker thread at most the call timeout; a caller may wait
    # longer when it queued behind stuck calls (16 callers, 8 threads).
    held = [line["duration_ms"] / 1000 for i in instances for line in call_lines(i) if line.get("Code") == 50]
    assert held and max(held) < CALL_TIMEOUT_S + SLACK_S
    slowest = max(a.seconds for a in answers)
    assert slowest < 2 * CALL_TIMEOUT_S + SLACK_S
    assert probes and all(p.status == 200 for p in probes), [p.status for p in probes]
    slowest_probe = max(p.seconds for p in probes)
    assert slowest_probe < 3.0  # the manifests' liveness timeoutSeconds
    wait_for(lambda: require(instances[0], token, "stall", "after-stall").body["Code"] == 0, timeout=30)
    figures(
        "stalled-sync-standby",
        call_timeout_s=CALL_TIMEOUT_S,
        stall_s=round(resumed_at - stalled_at, 1),
        answers=len(answers),
        longest_held_thread_s=round(max(held), 2),
        slowest_answer_at_the_caller_s=round(slowest, 2),
        healthz_probes=len(probes),
        slowest_healthz_s=round(slowest_probe, 3),
    )

    # Asynchronous replication, the standby behind at the crash (here: disconnected). The primary
    # acknowledges alone; promoting the standby loses what it never received.
    primary.set("synchronous_standby_names", "")
    standby.stop("fast")
    load = LoadRun(servers=[i.base for i in instances], token=token, threads=16, ops=25, workloads=8, max_attempts=80)
    load.run(120)
    assert not load.unexpected, load.unexpected[:10]
    holding_now = list({h.pod: h for h in load.holdings if h.end is None}.values())  # a pod's latest address
    acknowledged = [h for h in holding_now if h.pod not in load.unsure_pods]
    primary.kill9()
    standby.start()
    standby.promote()
    promoted_at = time.monotonic()
    wait_for(lambda: require(instances[1], token, "stall", "after-promotion").body["Code"] == 0, timeout=30)
    recovered_s = time.monotonic() - promoted_at
    assert require(instances[0], token, "stall", "after-promotion").body["Code"] == 0
    bound = bound_pairs(envs[0])
    lost = [h for h in acknowledged if (h.ip, h.pod) not in bound]
    released_back = [h for h in load.holdings if h.released and (h.ip, h.pod) in bound]
    assert lost, "the standby was behind: acknowledged bindings should be lost"
    counted = [failovers_counted(i) for i in instances]
    assert all(n >= 1 for n in counted), counted
    figures(
        "async-standby-behind",
        acknowledged_bindings_held=len(acknowledged),
        acknowledged_bindings_lost=len(lost),
        acknowledged_releases_undone=len(released_back),
        seconds_promotion_to_code_0=round(recovered_s, 3),
        failovers_counted=counted,
    )

    # The repair: reconcile reads the cluster (kubectl's JSON, built from what the clients hold:
    # every pod that still holds an address, on that address) and binds the lost ones back.
    path = tmp_path / "cluster.json"
    write_json(path, kubectl_list(*cluster_items(load, holding_now)))
    repair = manage(
        envs[0],
        "reconcile",
        "--cluster-id",
        CLUSTER,
        "--from-json",
        str(path),
        "--apply",
        "--recreate-pools",
        check=False,
    )
    print(repair.stdout[-3000:], repair.stderr[-2000:])
    assert repair.returncode in (0, 1), repair.stdout + repair.stderr
    bound = bound_pairs(envs[0])
    still_lost = [h for h in acknowledged if (h.ip, h.pod) not in bound]
    assert still_lost == [], [(h.ip, h.pod) for h in still_lost]
    # Every invariant holds on the promoted database after the repair, the restored bindings'
    # audit proof included (their RequireIPs were lost with the standby's lag).
    consistency = manage(envs[0], "check_consistency", check=False)
    assert consistency.returncode == 0, consistency.stdout + consistency.stderr
    figures("async-reconcile-repair", lost=len(lost), restored=len(lost) - len(still_lost), still_lost=len(still_lost))


def cluster_items(load: LoadRun, holdings) -> list[dict]:
    """The load's workloads as Kubernetes shows them (Deployments with a ReplicaSet, a Job, a
    CronJob with its Job) and a running pod per holding, on its address."""
    items: list[dict] = []
    owners: dict[int, dict] = {}
    for index in sorted({load._workload_of[h.pod] for h in holdings}):
        name, kind = f"w{index}", WORKLOAD_KINDS[index % len(WORKLOAD_KINDS)]
        replicas = sum(1 for h in holdings if load._workload_of[h.pod] == index)
        if kind == 0:
            dep = deployment(name, replicas, namespace="load")
            owners[index] = replicaset(dep)
            items += [dep, owners[index]]
        elif kind == 2:
            owners[index] = job(name, replicas, namespace="load")
            items.append(owners[index])
        elif kind == 3:
            cron = cronjob(name, replicas, namespace="load")
            owners[index] = job(f"{name}-29000000", replicas, namespace="load", owner=cron)
            items += [cron, owners[index]]
        else:
            owners[index] = statefulset(name, replicas, namespace="load")
            items.append(owners[index])
    for h in holdings:
        item = pod(h.pod, owner=owners[load._workload_of[h.pod]], ip=h.ip)
        item["metadata"]["name"] = f"{owners[load._workload_of[h.pod]]['metadata']['name']}-{h.pod}"
        items.append(item)
    return items
