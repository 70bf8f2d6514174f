"""Which clusters may use a subnet, and how much of it: grants, quotas, and what an empty access
list means. The allocator enforces them (pools.allocation.reserve_locked); these services change
them under the subnet's row lock, the lock every reservation in the subnet takes.

A subnet with grants serves only the granted clusters. Withdrawing a grant or lowering a quota
refuses growth only; pools keep what they reserved."""

from __future__ import annotations

import dataclasses

from django.db.models import Sum

from audit.recording import audit_record
from core.choices import AdminAction, Code
from core.domain import CallContext
from core.errors import ServiceError
from core.transactions import service_transaction
from pools.allocation import lock_subnet
from pools.models import Cluster, Pool, Subnet, SubnetGrant

Quota = int | None  # addresses a cluster may reserve in the subnet; None: no quota


def _quota_text(quota: Quota) -> str:
    return "no quota" if quota is None else f"a quota of {quota} addresses"


def _reserved_by(subnet: Subnet, cluster_id: str) -> int:
    """Addresses the cluster's pools (active or released) reserve in the subnet, as quotas count them."""
    pools = Pool.objects.filter(subnet=subnet, k8s_cluster_id=cluster_id)
    return pools.aggregate(n=Sum("reserved_count"))["n"] or 0


def _as(ctx: CallContext, action: AdminAction) -> CallContext:
    return dataclasses.replace(ctx, admin_action=action)


def _grant_locked(*, ctx: CallContext, subnet: Subnet, cluster: Cluster, quota: Quota) -> str | None:
    """Grant the locked subnet to the cluster, or change its quota. Returns what changed, if anything."""
    if quota is not None and quota < 0:
        raise ServiceError(Code.INVALID_REQUEST, "Quota: must not be negative")
    grant = SubnetGrant.objects.filter(subnet=subnet, cluster=cluster).first()
    if grant is not None and grant.quota == quota:
        return None
    if grant is None:
        SubnetGrant.objects.create(subnet=subnet, cluster=cluster, quota=quota)
        msg = f"cluster {cluster.cluster_id} granted subnet {subnet.subnet_id} with {_quota_text(quota)}"
        detail = {"quota": quota}
    else:
        previous = grant.quota
        grant.quota = quota
        grant.save(update_fields=["quota", "updated_at"])
        msg = (
            f"cluster {cluster.cluster_id} in subnet {subnet.subnet_id}: "
            f"{_quota_text(previous)} -> {_quota_text(quota)}"
        )
        detail = {"previous_quota": previous, "quota": quota}
    reserved = _reserved_by(subnet, cluster.cluster_id)
    if quota is not None and reserved > quota:
        msg += f" (it reserves {reserved} here already: growth refused until it is below)"
    if subnet.open_without_grants:
        # From now on the list is what counts; withdrawing the last grant must not open the subnet.
        Subnet.objects.filter(pk=subnet.pk).update(open_without_grants=False)
        subnet.open_without_grants = False
        msg += "; the subnet now serves granted clusters only"
    audit_record(
        _as(ctx, AdminAction.SUBNET_GRANT),
        cluster_id=cluster.cluster_id,
        subnet_id=subnet.subnet_id,
        msg=msg,
        detail={**detail, "reserved": reserved},
    )
    return msg


def _revoke_locked(*, ctx: CallContext, subnet: Subnet, cluster: Cluster) -> str | None:
    deleted, _ = SubnetGrant.objects.filter(subnet=subnet, cluster=cluster).delete()
    if not deleted:
        return None
    reserved = _reserved_by(subnet, cluster.cluster_id)
    msg = (
        f"grant of subnet {subnet.subnet_id} to cluster {cluster.cluster_id} withdrawn; its pools keep the "
        f"{reserved} addresses they reserve here, growth is refused"
    )
    audit_record(
        _as(ctx, AdminAction.SUBNET_REVOKE),
        cluster_id=cluster.cluster_id,
        subnet_id=subnet.subnet_id,
        msg=msg,
        detail={"reserved": reserved},
    )
    return msg


def _registered_cluster(cluster_id: str, field: str = "K8SClusterID") -> Cluster:
    cluster = Cluster.objects.filter(cluster_id=cluster_id).first()
    if cluster is None:
        raise ServiceError(
            Code.INVALID_REQUEST, f"{field}: cluster {cluster_id!r} is not registered (manage.py create_cluster)"
        )
    return cluster


@service_transaction
def subnet_grant(*, ctx: CallContext, subnet: Subnet, cluster_id: str, quota: Quota = None) -> str | None:
    """Let the cluster grow pools in the subnet, up to `quota` addresses (None: no quota); the same
    grant again changes nothing. Returns what changed (None: nothing)."""
    cluster = _registered_cluster(cluster_id)
    return _grant_locked(ctx=ctx, subnet=lock_subnet(subnet.pk), cluster=cluster, quota=quota)


@service_transaction
def subnet_revoke(*, ctx: CallContext, subnet: Subnet, cluster_id: str) -> str | None:
    """Withdraw the cluster's grant: its pools keep working, but may no longer grow in the subnet.
    A cluster not granted is nothing to do (None)."""
    cluster = _registered_cluster(cluster_id)
    return _revoke_locked(ctx=ctx, subnet=lock_subnet(subnet.pk), cluster=cluster)


@service_transaction
def subnet_access_set(
    *,
    ctx: CallContext,
    subnet: Subnet,
    grants: dict[str, Quota] | None = None,
    open_without_grants: bool | None = None,
) -> list[str]:
    """Make the subnet's access list exactly `grants` (cluster ID -> quota; None leaves the list as
    it is) and, while it is empty, open or closed (`open_without_grants`; None leaves it). A subnet
    with grants cannot be open as well. Returns what changed, one line per audited event."""
    subnet = lock_subnet(subnet.pk)
    current = {g.cluster.cluster_id: g.cluster for g in subnet.grants.select_related("cluster")}
    remaining = set(current) if grants is None else set(grants)
    if open_without_grants and remaining:
        raise ServiceError(
            Code.INVALID_REQUEST,
            "OpenWithoutGrants: a subnet that grants clusters serves only them; withdraw every grant to open it",
        )
    changes: list[str] = []
    if grants is not None:
        wanted = {cluster_id: _registered_cluster(cluster_id, "Grants") for cluster_id in sorted(grants)}
        for cluster_id in sorted(set(current) - set(wanted)):
            changes.append(_revoke_locked(ctx=ctx, subnet=subnet, cluster=current[cluster_id]))
        for cluster_id, cluster in wanted.items():
            changes.append(_grant_locked(ctx=ctx, subnet=subnet, cluster=cluster, quota=grants[cluster_id]))
    if open_without_grants is not None and open_without_grants != subnet.open_without_grants:
        Subnet.objects.filter(pk=subnet.pk).update(open_without_grants=open_without_grants)
        subnet.open_without_grants = open_without_grants
        msg = (
            f"subnet {subnet.subnet_id} open to every cluster while none is granted"
            if open_without_grants
            else f"subnet {subnet.subnet_id} closed to clusters not granted"
        )
        audit_record(
            _as(ctx, AdminAction.SUBNET_ACCESS),
            subnet_id=subnet.subnet_id,
            msg=msg,
            detail={"open_without_grants": open_without_grants},
        )
        changes.append(msg)
    return [change for change in changes if change]
