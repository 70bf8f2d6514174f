"""A workload's pool: create, scale and release it (the webhook's calls and the console's), and
purge released pools whose grace has run out. Each takes the pool's lock first (pools.allocation)."""

from __future__ import annotations

from django.utils import timezone

from audit.recording import audit_record
from core import addressing
from core.choices import Code, PoolState
from core.domain import CallContext, Workload
from core.errors import ServiceError
from core.transactions import service_transaction
from pools import allocation
from pools.models import Pool, Subnet


def _no_active_pool(workload: Workload) -> ServiceError:
    return ServiceError(Code.POOL_NOT_FOUND, f"workload {workload} has no active pool")


@service_transaction
def pool_create(
    *,
    ctx: CallContext,
    workload: Workload,
    replicas: int,
    net_regional_id: str,
    subnet_id: str,
    gateway: str | None = None,
) -> Pool:
    """Make the workload's pool hold `replicas` addresses of the subnet, all or none. An active pool
    in the same subnet is scaled (a repeated create is harmless); one in another subnet is 21.
    `gateway` must be the subnet's registered one (11); None takes it as registered (the admission
    webhook's annotation names no gateway)."""
    now = timezone.now()
    subnet = Subnet.objects.filter(subnet_id=subnet_id, net_regional_id=net_regional_id).first()
    if subnet is None:
        raise ServiceError(
            Code.SUBNET_NOT_FOUND, f"SubnetID: {subnet_id!r} is not registered under NetRegionalID {net_regional_id!r}"
        )
    if gateway is not None and addressing.parse_ip(gateway) != addressing.parse_ip(subnet.gateway):
        raise ServiceError(
            Code.SUBNET_MISMATCH,
            f"SubnetGatewayAddr: {gateway} differs from the gateway {subnet.gateway} registered for {subnet_id}",
        )
    pool = allocation.lock_active_pool(workload)
    if pool is not None:
        if pool.subnet_id != subnet.pk:
            raise ServiceError(
                Code.POOL_CONFLICT,
                f"workload {workload} already has an active pool in subnet {pool.subnet.subnet_id}",
            )
        msg = f"pool exists; target {pool.target} -> {replicas}"
    else:
        pool = allocation.reclaimable_released_pool(workload, subnet, now)
        if pool is not None:
            Pool.objects.filter(pk=pool.pk).update(state=PoolState.ACTIVE, released_at=None, updated_at=now)
            pool.state, pool.released_at = PoolState.ACTIVE, None
            msg = f"pool re-created within the release grace; {pool.reserved_count} addresses kept"
        else:
            pool = Pool.objects.create(**workload.as_filter(), subnet=subnet, target=replicas)
            # Through reserve_locked even with 0 replicas: it refuses a cluster the subnet does not serve.
            allocation.reserve_locked(pool=pool, count=replicas, now=now)
            msg = "pool created"
    allocation.set_target_locked(pool=pool, target=replicas, now=now)
    audit_record(ctx, workload=workload, subnet_id=subnet_id, msg=msg, at=now, detail={"target": replicas})
    return pool


@service_transaction
def pool_scale(*, ctx: CallContext, workload: Workload, new_target: int, old_target: int | None = None) -> Pool:
    """Set the workload's pool's target; `old_target` is the caller's belief, recorded only."""
    pool = allocation.lock_active_pool(workload)
    if pool is None:
        raise _no_active_pool(workload)
    return _retarget_audited_locked(ctx=ctx, pool=pool, target=new_target, caller_old_replicas=old_target)


@service_transaction
def pool_resize(*, ctx: CallContext, pool: Pool, target: int, reason: str = "") -> Pool:
    """Set an active pool's target from the console (or the reconciler, which gives its `reason`
    for the audit log): as a ScaleIPPool would, for this very pool."""
    pool = allocation.lock_pool(pool.pk)
    if not pool.is_active:
        raise ServiceError(Code.POOL_NOT_FOUND, f"pool {pool} is released; only an active pool can be resized")
    if target < 0:
        raise ServiceError(Code.INVALID_REQUEST, "target must not be negative")
    return _retarget_audited_locked(ctx=ctx, pool=pool, target=target, reason=reason)


def _retarget_audited_locked(*, ctx: CallContext, pool: Pool, target: int, reason: str = "", **detail) -> Pool:
    """Set the locked, active pool's target and audit it (ScaleIPPool and the console's resize)."""
    now = timezone.now()
    previous = pool.target
    allocation.set_target_locked(pool=pool, target=target, now=now)
    audit_record(
        ctx,
        workload=pool.workload,
        subnet_id=pool.subnet.subnet_id,
        msg=f"target {previous} -> {target}; {pool.reserved_count} reserved" + _because(reason),
        at=now,
        detail={"previous_target": previous, "new_target": target, **detail, **({"reason": reason} if reason else {})},
    )
    return pool


def _because(reason: str) -> str:
    return f"; reason: {reason}" if reason else ""


@service_transaction
def pool_release(*, ctx: CallContext, workload: Workload) -> Pool | None:
    """Stop a workload's pool (ReleaseIPPool). An unknown workload is nothing to do."""
    now = timezone.now()
    pool = allocation.lock_active_pool(workload)
    if pool is None:
        audit_record(ctx, workload=workload, msg="no active pool; nothing to do", at=now)
        return None
    return _release_audited_locked(ctx=ctx, pool=pool, now=now)


@service_transaction
def pool_release_one(*, ctx: CallContext, pool: Pool, reason: str = "") -> Pool:
    """Release this active pool from the console (or the reconciler, which gives its `reason` for
    the audit log), as a ReleaseIPPool of its workload would."""
    pool = allocation.lock_pool(pool.pk)
    if not pool.is_active:
        raise ServiceError(Code.POOL_NOT_FOUND, f"pool {pool} is already released")
    return _release_audited_locked(ctx=ctx, pool=pool, now=timezone.now(), reason=reason)


def _release_audited_locked(*, ctx: CallContext, pool: Pool, now, reason: str = "") -> Pool:
    """Idle addresses go back now (or after the grace); bound ones when their pods release them."""
    returned = allocation.release_locked(pool, now)
    audit_record(
        ctx,
        workload=pool.workload,
        subnet_id=pool.subnet.subnet_id,
        msg=f"pool released; {returned} idle addresses returned, {pool.reserved_count} kept" + _because(reason),
        at=now,
        detail={"reason": reason} if reason else None,
    )
    return pool


@service_transaction
def released_pools_purge(*, ctx: CallContext) -> int:
    """Return the idle addresses of every released pool whose grace has run out."""
    now = timezone.now()
    purged = sum(allocation.purge_expired_released(subnet, now) for subnet in Subnet.objects.order_by("pk"))
    if purged:
        audit_record(ctx, msg=f"{purged} idle addresses of released pools returned", at=now)
    return purged
