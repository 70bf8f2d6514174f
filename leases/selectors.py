"""Reads of who holds which address, and of reconcile runs, shared by the read API and the console."""

from __future__ import annotations

from django.db.models import QuerySet

from core.choices import Code
from core.domain import Actor
from core.errors import ServiceError
from leases.models import Lease, ReconcileRun
from pools.models import Address


def lease_of(address: Address) -> Lease | None:
    """The address's lease, or None when it is idle. Use on rows read with select_related("lease"):
    a missing reverse one-to-one raises an AttributeError, which reads as none here (and in
    serializer fields with `source="lease.x"`)."""
    return getattr(address, "lease", None)


def addresses_with_holders() -> QuerySet[Address]:
    """Addresses with their pool, subnet and lease (if any) in one query."""
    return Address.objects.select_related("pool", "subnet", "lease")


def addresses_visible_to(actor: Actor) -> QuerySet[Address]:
    addresses = addresses_with_holders()
    if actor.cluster_id is not None:
        addresses = addresses.filter(pool__k8s_cluster_id=actor.cluster_id)
    return addresses


def reconcile_runs_visible_to(actor: Actor) -> QuerySet[ReconcileRun]:
    """Stored reconcile runs, newest first: an operator's view (they name leaked pods of any cluster)."""
    if not actor.is_operator:
        raise ServiceError(Code.FORBIDDEN, "only an operator token may read reconcile runs")
    return ReconcileRun.objects.order_by("-started_at", "-id")
