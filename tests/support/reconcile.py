"""Helpers for the reconcile tests: bindings made through the API, time moved on, and the command."""

from __future__ import annotations

import io
import time
from datetime import timedelta

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import F

from audit.models import AuditEvent
from leases.consistency import find_violations
from leases.models import Lease
from pools.models import Pool
from tests.support.api import holder
from tests.support.kube import deployment, kubectl_list, pod, replicaset, write_json


def bind(v1, pods, *, replicas: int | None = None, **workload) -> dict[str, str]:
    """Create the workload's pool (one address per pod unless `replicas`) and bind each pod, through
    the API as the webhook and the CNI plugin would. Returns pod -> IP."""
    assert v1.create_pool(len(pods) if replicas is None else replicas, **workload).json()["Code"] == 0
    ips = {}
    for pod_uid in pods:
        answer = v1.require(pod_uid, **workload).json()
        assert answer["Code"] == 0, answer
        ips[pod_uid] = answer["IP"]
    return ips


def age(seconds: int = 3600) -> None:
    """Let time pass for what exists now: every binding and pool becomes `seconds` older."""
    delta = timedelta(seconds=seconds)
    Lease.objects.update(bound_at=F("bound_at") - delta)
    Pool.objects.update(created_at=F("created_at") - delta, updated_at=F("updated_at") - delta)


def web(live_pods, *, replicas: int = 3, name: str = "web", namespace: str = "default") -> list[dict]:
    """A Deployment, its ReplicaSet and its running pods, as kubectl lists them."""
    dep = deployment(name, replicas, namespace=namespace)
    rs = replicaset(dep)
    return [dep, rs, *(pod(uid, owner=rs) for uid in live_pods)]


def cluster_file(tmp_path, *items, name: str = "cluster.json") -> str:
    return str(write_json(tmp_path / name, kubectl_list(*items)))


def reconcile(*args, cluster: str = "c1") -> tuple[int, str]:
    """Run `manage.py reconcile --cluster-id CLUSTER ARGS...`: (exit code, what it printed)."""
    out = io.StringIO()
    try:
        call_command("reconcile", "--cluster-id", cluster, *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + "\n" + str(exc)
    return 0, out.getvalue()


def row_of(output: str, *texts: str) -> str:
    """The one table row of the output that names all `texts`."""
    rows = [
        line
        for line in output.splitlines()
        if all(text in line for text in texts) and not line.startswith(("read ", "reconcile "))
    ]
    assert len(rows) == 1, output
    return rows[0]


def consistent() -> bool:
    violations = find_violations()
    assert not violations, violations
    return True


def reconcile_events():
    return AuditEvent.objects.filter(actor="reconcile").order_by("id")


def nothing_changed(ips: dict[str, str]) -> bool:
    return {holder(ip) for ip in ips.values()} == set(ips) and not reconcile_events().exists()


HANG_GUARD_S = 120  # only against a hang; the test waits for events, never for time to pass


def wait_for_a_lock_wait() -> None:
    """Until another connection of this database waits for a row lock."""
    deadline = time.monotonic() + HANG_GUARD_S
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.02)
    raise AssertionError("the reconciler never waited for the pool's lock")
