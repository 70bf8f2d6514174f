"""Making a reconcile run's changes: the same services and locks as the API and the console.

Each change is its own transaction, under its pool's lock, and first checks that what the run
saw is still so: a binding still held by the same pod since the same time (a pod that was given
the address after the cluster was read keeps it), a pool not changed by the webhook since. What
no longer holds is skipped and said why; nothing else is touched."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import DatabaseError
from django.utils import timezone

from leases.models import Lease
from leases.reconcile.compare import LEAKED_BINDING, ORPHANED_POOL, Finding, Plan
from leases.services import end_binding_locked
from pools import allocation, services
from pools.choices import AdminAction, Code
from pools.domain import Actor, CallContext
from pools.errors import ServiceError
from pools.models import Pool
from pools.transactions import service_transaction

RECONCILE_ACTOR = Actor(label="reconcile", is_operator=True)


def reconcile_ctx(action: AdminAction, run_pk: int) -> CallContext:
    """Audit events of a run carry the run's ReqID, so one search finds all it did."""
    return CallContext(actor=RECONCILE_ACTOR, req_id=f"reconcile-{run_pk}", admin_action=action)


@service_transaction
def leaked_binding_end(*, ctx: CallContext, address_pk: int, pod_id: str, bound_at, cutoff, reason: str) -> str:
    """End the binding of `pod_id` to the address if, under its pool's lock, that pod still holds
    it since `bound_at` and that is before `cutoff`. Refused with Code 31 (nothing changes) when
    the address changed hands or was let go. Returns what became of the address."""
    now = timezone.now()
    pool, address = allocation.lock_address(address_pk)
    lease = Lease.objects.filter(address=address).first()
    if lease is None:
        raise ServiceError(Code.ADDRESS_CONFLICT, f"{address.ip} is no longer bound; nothing released")
    if lease.pod_id != pod_id or lease.bound_at != bound_at:
        raise ServiceError(
            Code.ADDRESS_CONFLICT,
            f"{address.ip} was bound again (to pod {lease.pod_id} at {lease.bound_at:%Y-%m-%d %H:%M:%S}) "
            "after the cluster was read; nothing released",
        )
    if lease.bound_at >= cutoff:
        raise ServiceError(Code.ADDRESS_CONFLICT, f"{address.ip} was bound within the grace; nothing released")
    return end_binding_locked(
        ctx,
        pool=pool,
        address=address,
        lease=lease,
        now=now,
        msg=f"leaked binding of pod {pod_id} ended; reason: {reason}",
        detail={"reason": reason, "bound_at": bound_at.isoformat()},
    )


def _lock_unchanged_pool(*, pool_pk: int, updated_at, cutoff) -> Pool:
    """Lock the pool and refuse (Code 21, nothing changes) if it was released, or changed since the
    cluster was read, or is within the grace."""
    pool = allocation.lock_pool(pool_pk)
    if not pool.is_active:
        raise ServiceError(Code.POOL_CONFLICT, f"pool {pool} was released meanwhile; nothing to do")
    if pool.updated_at != updated_at:
        raise ServiceError(Code.POOL_CONFLICT, f"pool {pool} was changed after the cluster was read; left alone")
    if pool.created_at >= cutoff or pool.updated_at >= cutoff:
        raise ServiceError(Code.POOL_CONFLICT, f"pool {pool} is younger than the grace; left alone")
    return pool


@service_transaction
def orphaned_pool_release(*, ctx: CallContext, pool_pk: int, updated_at, cutoff, reason: str) -> Pool:
    """Release the pool whose workload is gone, as a ReleaseIPPool would, if it is unchanged since
    the cluster was read (a webhook call since would mean the workload is back)."""
    pool = _lock_unchanged_pool(pool_pk=pool_pk, updated_at=updated_at, cutoff=cutoff)
    return services.pool_release_one(ctx=ctx, pool=pool, reason=reason)


@service_transaction
def drifted_pool_retarget(*, ctx: CallContext, pool_pk: int, updated_at, cutoff, target: int, reason: str) -> Pool:
    """Set the pool's target to its workload's replica count, as a ScaleIPPool would, if the pool is
    unchanged since the cluster was read (the webhook's own scale wins)."""
    pool = _lock_unchanged_pool(pool_pk=pool_pk, updated_at=updated_at, cutoff=cutoff)
    return services.pool_resize(ctx=ctx, pool=pool, target=target, reason=reason)


@dataclass
class Applied:
    bindings_freed: int = 0
    pools_released: int = 0
    targets_fixed: int = 0
    skipped: int = 0
    failed: int = 0


def apply_plan(plan: Plan, *, run_pk: int) -> Applied:
    """Make the plan's changes, one transaction each: bindings first, so that a pool released
    next gives back the addresses just freed. A refusal skips that one change; a database error
    fails it; the others go ahead either way."""
    applied = Applied()
    for finding in plan.changes:
        try:
            done = _apply_one(finding, plan, run_pk)
        except ServiceError as exc:
            applied.skipped += 1
            finding.action = f"skipped: {exc.msg}"
            continue
        except DatabaseError as exc:
            applied.failed += 1
            finding.action = f"failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
            continue
        finding.action = done
        if finding.what == LEAKED_BINDING:
            applied.bindings_freed += 1
        elif finding.what == ORPHANED_POOL:
            applied.pools_released += 1
        else:
            applied.targets_fixed += 1
    return applied


def _apply_one(finding: Finding, plan: Plan, run_pk: int) -> str:
    reason = finding.why
    if finding.what == LEAKED_BINDING:
        outcome = leaked_binding_end(
            ctx=reconcile_ctx(AdminAction.BINDING_FORCE_RELEASE, run_pk),
            address_pk=finding.address_pk,
            pod_id=finding.pod_id,
            bound_at=finding.seen_at,
            cutoff=plan.cutoff,
            reason=reason,
        )
        return f"binding ended; {outcome}"
    if finding.what == ORPHANED_POOL:
        pool = orphaned_pool_release(
            ctx=reconcile_ctx(AdminAction.POOL_RELEASE, run_pk),
            pool_pk=finding.pool_pk,
            updated_at=finding.seen_at,
            cutoff=plan.cutoff,
            reason=reason,
        )
        return f"pool released; {pool.reserved_count} addresses still reserved (bound, or in the release grace)"
    pool = drifted_pool_retarget(
        ctx=reconcile_ctx(AdminAction.POOL_RESIZE, run_pk),
        pool_pk=finding.pool_pk,
        updated_at=finding.seen_at,
        cutoff=plan.cutoff,
        target=finding.replicas,
        reason=reason,
    )
    return f"target set to {pool.target}"
