"""Making a reconcile run's changes: the same services and locks as the API and the console.

Each change is its own transaction, under its pool's lock, and first checks that what the run
saw is still so: a binding still held by the same pod since the same time (a pod that was given
the address after the cluster was read keeps it), a pool not changed by the webhook since. What
no longer holds is skipped and said why; nothing else is touched."""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.db import DatabaseError
from django.utils import timezone

from audit.models import AuditEvent
from audit.recording import audit_record
from core import addressing
from core.choices import AdminAction, Code
from core.domain import Actor, CallContext, Workload
from core.errors import ServiceError
from core.transactions import service_transaction
from leases.models import Lease
from leases.reconcile.plan import (
    ADDRESS_FREE,
    ADDRESS_IDLE,
    LEAKED_BINDING,
    LOST_BINDING,
    LOST_POOL,
    ORPHANED_POOL,
    Finding,
    Plan,
)
from leases.services import end_binding_locked, restore_binding_locked
from pools import allocation, services
from pools.models import Address, Pool, Subnet

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


def _refuse_if_touched_since(*, ip: str, subnet_id: str, read_at, ctx: CallContext) -> None:
    """Every change to an address is audited with its IP: an event since the cluster was read (other
    than this run's own) means a pod may have been given or let go of it meanwhile."""
    touched = AuditEvent.objects.filter(ip=ip, subnet_id=subnet_id, at__gte=read_at).exclude(req_id=ctx.req_id)
    if touched.exists():
        raise ServiceError(
            Code.ADDRESS_CONFLICT, f"{ip} was bound or released after the cluster was read; left alone (run again)"
        )


def _refuse_if_pod_holds_another(pool: Pool, pod_id: str, ip: str) -> None:
    held = Lease.objects.filter(pool=pool, pod_id=pod_id).select_related("address").first()
    if held is not None:
        raise ServiceError(
            Code.ADDRESS_CONFLICT,
            f"the database binds {held.address.ip} of this pool to the pod, not {ip}; release that first; "
            "nothing changed",
        )


@service_transaction
def lost_binding_restore(
    *, ctx: CallContext, pod_id: str, ip: str, pool_pk: int, subnet_pk: int, state: str, idle_since, read_at
) -> str:
    """Bind `ip` to `pod_id` again, the pod being seen to hold it, if under the locks the address is
    still as the run read it: idle in the pool since `idle_since` (ADDRESS_IDLE), not reserved
    (ADDRESS_FREE: it is reserved into the pool first), or, after this run ended a leaked binding
    of it (ADDRESS_LEAKED), idle or not reserved. Never an address bound to any pod: Code 31,
    nothing changes. Returns what was done."""
    now = timezone.now()
    pool = allocation.lock_pool(pool_pk)
    if not pool.is_active:
        raise ServiceError(Code.POOL_CONFLICT, f"pool {pool} was released meanwhile; nothing bound")
    subnet = pool.subnet
    if subnet.pk != subnet_pk:
        raise ServiceError(Code.SUBNET_MISMATCH, f"pool {pool} is not in the address's subnet; nothing bound")
    _refuse_if_touched_since(ip=ip, subnet_id=subnet.subnet_id, read_at=read_at, ctx=ctx)
    key = addressing.ip_key(addressing.parse_ip(ip))
    # FOR UPDATE: binders take idle addresses without the pool's lock (SKIP LOCKED): this row is
    # then ours, or one of theirs has bound it and we see the lease.
    address = Address.objects.filter(subnet_id=subnet_pk, ip_key=key).select_for_update(of=("self",)).first()
    if address is not None:
        lease = Lease.objects.filter(address=address).first()
        if lease is not None:
            raise ServiceError(
                Code.ADDRESS_CONFLICT, f"{ip} is bound to pod {lease.pod_id} since the cluster was read; nothing bound"
            )
        if address.pool_id != pool.pk:
            raise ServiceError(Code.ADDRESS_CONFLICT, f"{ip} was reserved by another pool meanwhile; nothing bound")
        if state == ADDRESS_FREE or (state == ADDRESS_IDLE and address.idle_since != idle_since):
            raise ServiceError(Code.ADDRESS_CONFLICT, f"{ip} changed after the cluster was read; nothing bound")
    elif state == ADDRESS_IDLE:
        raise ServiceError(Code.ADDRESS_CONFLICT, f"{ip} went back to its subnet meanwhile; nothing bound")
    _refuse_if_pod_holds_another(pool, pod_id, ip)
    reserved = address is None
    if reserved:
        address = allocation.reserve_ip_locked(pool=pool, ip=ip, now=now, idle=False)
    what = "reserved into the pool and bound" if reserved else "idle address bound"
    restore_binding_locked(
        ctx,
        pool=pool,
        address=address,
        pod_id=pod_id,
        now=now,
        msg=f"lost binding of pod {pod_id} restored ({what}); the cluster shows the pod on {ip}",
        detail={"state_read": state, "reserved": reserved},
    )
    return what


@service_transaction
def lost_pool_recreate(
    *, ctx: CallContext, workload: Workload, subnet_pk: int, target: int, pods: list[tuple[str, str]], read_at
) -> Pool:
    """Re-create the workload's pool in the subnet with `target`, its pods' addresses (`pods`: pod,
    IP) reserved into it and bound, then the rest of the target reserved idle. Refused, nothing
    changed, if the workload has an active pool by now (the webhook's create wins; a concurrent
    create loses the unique race and this call, retried, sees its pool), or its pools changed
    after the cluster was read (a ReleaseIPPool since means the workload is going)."""
    now = timezone.now()
    if allocation.lock_active_pool(workload) is not None:
        raise ServiceError(Code.POOL_CONFLICT, f"workload {workload} has an active pool by now; nothing re-created")
    changed = AuditEvent.objects.filter(
        k8s_cluster_id=workload.cluster_id,
        namespace=workload.namespace,
        kind=workload.kind,
        name=workload.name,
        at__gte=read_at,
    ).exclude(req_id=ctx.req_id)
    if changed.exists():
        raise ServiceError(
            Code.POOL_CONFLICT, f"workload {workload} was changed after the cluster was read; nothing re-created"
        )
    subnet = Subnet.objects.get(pk=subnet_pk)
    pool = Pool.objects.create(**workload.as_filter(), subnet=subnet, target=target)
    audit_record(
        ctx,
        workload=workload,
        subnet_id=subnet.subnet_id,
        msg=f"lost pool re-created (target {target}) with the addresses of its {len(pods)} live pods",
        at=now,
        detail={"target": target, "pods": len(pods)},
    )
    # Each binding is audited as a restore, the proof check_consistency and "who held" read.
    restoring = replace(ctx, admin_action=AdminAction.BINDING_RESTORE)
    for pod_id, ip in pods:
        _refuse_if_touched_since(ip=ip, subnet_id=subnet.subnet_id, read_at=read_at, ctx=ctx)
        address = allocation.reserve_ip_locked(pool=pool, ip=ip, now=now, idle=False)
        restore_binding_locked(
            restoring,
            pool=pool,
            address=address,
            pod_id=pod_id,
            now=now,
            msg=f"lost binding of pod {pod_id} restored into the re-created pool; the cluster shows the pod on {ip}",
            detail={"state_read": ADDRESS_FREE, "reserved": True},
        )
    if pool.reserved_count < target:
        allocation.reserve_locked(pool=pool, count=target - pool.reserved_count, now=now)
    return pool


@dataclass
class Applied:
    bindings_freed: int = 0
    pools_released: int = 0
    targets_fixed: int = 0
    bindings_restored: int = 0
    pools_recreated: int = 0
    skipped: int = 0
    failed: int = 0


def apply_plan(plan: Plan, *, run_pk: int) -> Applied:
    """Make the plan's changes, one transaction each: bindings first, so that a pool released
    next gives back the addresses just freed. A refusal skips that one change; a database error
    fails it; the others go ahead either way."""
    applied = Applied()
    for finding in plan.changes:
        try:
            if finding.what == LOST_BINDING:
                done = _restore_one(finding, plan, run_pk)
            elif finding.what == LOST_POOL:
                done = _recreate_one(finding, plan, run_pk)
            else:
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
        elif finding.what == LOST_BINDING:
            applied.bindings_restored += 1
        elif finding.what == LOST_POOL:
            applied.pools_recreated += 1
        else:
            applied.targets_fixed += 1
    return applied


def _restore_one(finding: Finding, plan: Plan, run_pk: int) -> str:
    leaked = finding.leaked
    if finding.address_state not in (ADDRESS_IDLE, ADDRESS_FREE) and (
        leaked is None or not leaked.action.startswith("binding ended")
    ):
        raise ServiceError(Code.ADDRESS_CONFLICT, "the leaked binding of the address was not ended; nothing bound")
    what = lost_binding_restore(
        ctx=reconcile_ctx(AdminAction.BINDING_RESTORE, run_pk),
        pod_id=finding.pod_id,
        ip=finding.ip,
        pool_pk=finding.pool_pk,
        subnet_pk=finding.subnet_pk,
        state=finding.address_state,
        idle_since=finding.seen_at,
        read_at=plan.snapshot.read_at,
    )
    return f"binding restored; {what}"


def _recreate_one(finding: Finding, plan: Plan, run_pk: int) -> str:
    kind, namespace, name = finding.workload
    pool = lost_pool_recreate(
        ctx=reconcile_ctx(AdminAction.POOL_RECREATE, run_pk),
        workload=Workload(plan.cluster_id, namespace, kind, name),
        subnet_pk=finding.subnet_pk,
        target=finding.replicas,
        pods=list(zip(finding.pods, finding.ips, strict=True)),
        read_at=plan.snapshot.read_at,
    )
    return f"pool re-created; {len(finding.pods)} bindings restored, {pool.reserved_count} addresses reserved"


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
