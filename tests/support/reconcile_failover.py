"""Reconcile-after-failover tests: make the database lose what a promoted standby would not hold."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from audit.models import AuditEvent
from core.choices import AdminAction
from leases.models import Lease
from pools.models import Address, Pool
from tests.support.kube import (
    deployment,
    kubectl_list,
    pod,
    replicaset,
    write_json,
)


def lose_binding(ip: str) -> None:
    """The pod's RequireIP never reached the standby: the address is idle again, since long ago."""
    address = Address.objects.get(ip=ip)
    Lease.objects.filter(address=address).delete()
    Address.objects.filter(pk=address.pk).update(idle_since=timezone.now() - timedelta(hours=2))


def lose_reservation(ip: str) -> None:
    """The reservation of the address (a surge, a scale) was lost too: it is free in its subnet."""
    address = Address.objects.get(ip=ip)
    Lease.objects.filter(address=address).delete()
    address.delete()
    Pool.objects.filter(pk=address.pool_id).update(reserved_count=F("reserved_count") - 1)


def web(pod_ips: dict[str, str], *, replicas: int = 3, name: str = "web", extra=()) -> list[dict]:
    """A Deployment, its ReplicaSet and its running pods, each on its address (pod -> IP; '' for none)."""
    dep = deployment(name, replicas)
    rs = replicaset(dep)
    return [dep, rs, *(pod(uid, owner=rs, ip=ip) for uid, ip in pod_ips.items()), *extra]


def cluster(tmp_path, *items, name: str = "cluster.json") -> str:
    return str(write_json(tmp_path / name, kubectl_list(*items)))


def restore_events():
    return AuditEvent.objects.filter(admin_action=AdminAction.BINDING_RESTORE).order_by("id")
