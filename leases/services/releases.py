"""A pod lets go (ReleaseIP), or someone ends its binding: the address goes back to idle, or to the
subnet when its pool does not keep it. One statement on PostgreSQL when it can, else under the
pool's size lock (the locks: leases/services/bindings.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.recording import audit_insert_sql, audit_record, audit_values
from core.choices import AdminAction, Code, PoolState
from core.domain import CallContext, Workload
from core.errors import ServiceError
from core.transactions import retrying, service_transaction
from leases.models import Lease
from leases.services.bindings import (
    IDLE_MSG,
    NOTHING_BOUND_MSG,
    RETURNED_MSG,
    WORKLOAD_POOL_SQL,
    one_statement_paths,
    workload_params,
)
from leases.tables import quoted_tables
from pools import allocation
from pools.models import Address, Pool, QuarantinedAddress


def ip_release(*, ctx: CallContext, workload: Workload, pod_id: str, ip: str = "") -> list[str]:
    """Release what the pod holds in the workload's pools (active or released: pods outlive
    their workload while they terminate). Nothing bound is success; another pod's is 31.
    Returns the IPs released. `ip`: empty, or an address in canonical text (the contract's field
    gives it so: parsed once, there)."""
    if one_statement_paths():
        released = retrying(_release_in_one_statement)(ctx=ctx, workload=workload, pod_id=pod_id, ip=ip)
        if released is not None:
            return released
    return _release_under_pool_lock(ctx=ctx, workload=workload, pod_id=pod_id, ip=ip)


def _release_in_one_statement(*, ctx, workload, pod_id, ip) -> list[str] | None:
    """PostgreSQL, the common cases in one statement (atomic on its own): nothing bound to the pod
    (audited as such), or every address it names goes back to idle in pools that keep them. None,
    having changed nothing, when the general path must decide: another pod holds the address (31),
    or an address must go back to the subnet (that changes the pool's size)."""
    now = timezone.now()
    t = quoted_tables()
    grace = settings.IPRESMGR_RELEASE_GRACE_SECONDS
    # A released pool keeps a freed address only within its grace (Pool.keeps_freed_address); with
    # no grace, never (not "released after now": a concurrent release may well be stamped later).
    grace_cutoff = now - timedelta(seconds=grace)
    # With an IP, the pod's leases are found from the address by its IP, in a CTE of their own:
    # left to join the pool, the lease and the address freely, the planner of a table never
    # analyzed (autovacuum off, or not yet run after a burst) walks every lease of the pool and
    # filters on the IP, a cost that grows with the pool (bench/release_plan.py --never-analyzed).
    # Without one, (pool, pod) is the unique key of a lease: one row whatever the statistics.
    if ip:
        # OFFSET 0 keeps the lateral lookup a lookup (by the lease's key) for each address of the IP,
        # rather than a join the planner may turn into a scan of every lease.
        leases_of = f"""leased AS MATERIALIZED (
        SELECT l.* FROM {t["address"]} a
        CROSS JOIN LATERAL (SELECT * FROM {t["lease"]} WHERE address_id = a.id OFFSET 0) l
        WHERE a.ip = %s
    ),"""
        leases_from, leases_params, pod_filter, pod_params = "leased", [ip], "", []
    else:
        leases_of, leases_from, leases_params = "", t["lease"], []
        pod_filter, pod_params = " AND l.pod_id = %s", [pod_id]
    event = audit_values(ctx, workload=workload, pod_id=pod_id, at=now)
    idle_audit, idle_params = audit_insert_sql(
        {**event, "msg": IDLE_MSG}, from_sql={"ip": "idled.ip", "subnet_id": "idled.subnet_id"}, source="idled"
    )
    nothing_audit, nothing_params = audit_insert_sql(
        {**event, "ip": ip, "msg": NOTHING_BOUND_MSG}, from_sql={}, source="(SELECT 1) one"
    )
    sql = f"""
    WITH {leases_of} found AS (
        SELECT l.address_id, l.pod_id, s.subnet_id,
               (p.state = %s AND p.reserved_count <= p.target)
               OR (p.state = %s AND %s AND p.released_at > %s) AS keeps
        FROM {t["pool"]} p JOIN {leases_from} l ON l.pool_id = p.id JOIN {t["subnet"]} s ON s.id = p.subnet_id
        WHERE {WORKLOAD_POOL_SQL}{pod_filter}
        FOR SHARE OF p
    ),
    ended AS (
        DELETE FROM {t["lease"]} l USING found
        WHERE l.address_id = found.address_id AND l.pod_id = %s
          AND NOT EXISTS (SELECT 1 FROM found f WHERE f.pod_id <> %s OR NOT f.keeps)
        RETURNING l.address_id, found.subnet_id
    ),
    idled AS (
        UPDATE {t["address"]} a SET idle_since = %s FROM ended WHERE a.id = ended.address_id
        RETURNING a.ip, ended.subnet_id
    ),
    audited AS ({idle_audit}),
    nothing AS ({nothing_audit} WHERE NOT EXISTS (SELECT 1 FROM found))
    SELECT (SELECT COUNT(*) FROM found), ip FROM (SELECT 1) one LEFT JOIN idled ON true
    """
    params = [
        *leases_params,
        PoolState.ACTIVE,
        PoolState.RELEASED,
        grace > 0,
        connection.ops.adapt_datetimefield_value(grace_cutoff),
        *workload_params(workload)[:4],
        *pod_params,
        pod_id,
        pod_id,
        connection.ops.adapt_datetimefield_value(now),
        *idle_params,
        *nothing_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    found = rows[0][0]
    released = sorted(row[1] for row in rows if row[1] is not None)
    if found and len(released) < found:
        return None  # changed nothing: the general path decides
    return released


@service_transaction
def _release_under_pool_lock(*, ctx, workload, pod_id, ip) -> list[str]:
    """The general path: lock, in id order, the workload's pools that hold a candidate (their size
    may change), read the leases afresh under those locks, and let each go."""
    now = timezone.now()
    candidates = Address.objects.filter(ip=ip) if ip else Address.objects.filter(lease__pod_id=pod_id)
    pools = allocation.lock_pools_holding(workload, candidates.values("pool_id"))
    leases = Lease.objects.filter(pool_id__in=list(pools)).select_related("address").order_by("pool_id", "pk")
    leases = leases.filter(address__ip=ip) if ip else leases.filter(pod_id=pod_id)
    released: list[str] = []
    for lease in leases:
        if lease.pod_id != pod_id:
            raise ServiceError(
                Code.ADDRESS_CONFLICT,
                f"IP: {lease.address.ip} is bound to another pod, not {pod_id}; nothing released",
            )
        pool = pools[lease.pool_id]
        outcome = unbind_locked(pool=pool, lease=lease, now=now)
        released.append(lease.address.ip)
        # One event per address, so that "who held this IP" is an exact, indexed lookup.
        audit_record(
            ctx,
            workload=workload,
            pod_id=pod_id,
            ip=lease.address.ip,
            subnet_id=pool.subnet.subnet_id,
            msg=outcome,
            at=now,
        )
    if not released:
        audit_record(ctx, workload=workload, pod_id=pod_id, ip=ip, msg=NOTHING_BOUND_MSG, at=now)
    return released


def ip_release_conflict(*, ctx: CallContext, workload: Workload, pod_id: str, ip: str, conflict_mac: str = "") -> str:
    """The pod's CNI plugin found `ip` answered by another MAC (`conflict_mac`): end the pod's
    binding and quarantine the address in its subnet, out of its pool, until an operator clears it
    (pools.services.quarantine). One transaction, under the pool's size lock.

    An idle address of the workload's pool is quarantined too (an intruder answers for it either
    way); one already quarantined, or none of the workload's, is success with nothing to do; one
    bound to another pod is 31 and nothing changes. A pool left below its target reserves a
    replacement at once when its subnet has room; when it has none the quarantine still holds, and
    the pool grows later as it would after any shortfall (a require's surge, a scale). `ip`: in
    canonical text, as the contract's field gives it. Returns what happened (the call's Msg)."""
    return _quarantine_under_pool_lock(
        ctx=replace(ctx, admin_action=AdminAction.QUARANTINE),
        workload=workload,
        pod_id=pod_id,
        ip=ip,
        conflict_mac=conflict_mac.lower(),
    )


@service_transaction
def _quarantine_under_pool_lock(*, ctx, workload, pod_id, ip, conflict_mac) -> str:
    now = timezone.now()
    pools = allocation.lock_pools_holding(workload, Address.objects.filter(ip=ip).values("pool_id"))
    address = (
        Address.objects.filter(pool_id__in=list(pools), ip=ip).select_related("subnet").select_for_update(of=("self",))
    ).first()
    if address is None:
        quarantined = QuarantinedAddress.objects.filter(ip=ip, **workload.as_filter()).select_related("subnet").first()
        if quarantined is not None:
            msg = f"{ip} is already quarantined in {quarantined.subnet.subnet_id}; nothing to do"
            subnet_id = quarantined.subnet.subnet_id
        else:
            msg, subnet_id = f"{ip} is not reserved by this workload's pools; nothing to quarantine", ""
        audit_record(ctx, workload=workload, pod_id=pod_id, ip=ip, subnet_id=subnet_id, msg=msg, at=now)
        return msg
    pool = pools[address.pool_id]
    lease = Lease.objects.filter(address=address).first()
    if lease is not None and lease.pod_id != pod_id:
        raise ServiceError(
            Code.ADDRESS_CONFLICT, f"IP: {ip} is bound to another pod, not {pod_id}; nothing released or quarantined"
        )
    if lease is not None:
        Lease.objects.filter(pk=lease.pk).delete()
    # The lock every reservation in the subnet holds (pool, then subnet: the allocator's order), so
    # that a reservation never runs between this quarantine and its check of the quarantine.
    allocation.lock_subnet(pool.subnet_id)
    answered = f"answered by {conflict_mac}" if conflict_mac else "answered by another host"
    allocation.quarantine_address_locked(
        pool=pool,
        address=address,
        conflict_mac=conflict_mac,
        pod_id=pod_id,
        actor=ctx.actor.label,
        reason=f"in use on the wire ({answered}), reported by pod {pod_id}",
        now=now,
    )
    subnet_id = address.subnet.subnet_id
    was = "binding ended" if lease is not None else "was idle"
    msg = f"{ip} quarantined in {subnet_id} ({answered}; {was}); {_replace_quarantined_locked(pool, now)}"
    audit_record(
        ctx,
        workload=workload,
        pod_id=pod_id,
        ip=ip,
        subnet_id=subnet_id,
        msg=msg,
        at=now,
        detail={"ConflictMacAddr": conflict_mac, "MacAddr": address.mac, "PortID": str(address.port_id)},
    )
    return msg


def _replace_quarantined_locked(pool: Pool, now) -> str:
    """Reserve one address for the locked pool when a quarantine left it below its target. The
    subnet having no room (or the cluster no quota left) must not undo the quarantine: then the
    pool stays one short, and says so."""
    if not pool.is_active or pool.reserved_count >= pool.target:
        return f"pool holds {pool.reserved_count} (target {pool.target})"
    try:
        with transaction.atomic():
            (replacement,) = allocation.reserve_locked(pool=pool, count=1, now=now)
    except ServiceError as refused:
        return f"no replacement reserved: {refused.msg}"
    return f"replacement {replacement.ip} reserved; pool holds {pool.reserved_count} (target {pool.target})"


def end_binding_locked(
    ctx: CallContext, *, pool: Pool, address: Address, lease: Lease, now, msg: str, detail: dict | None = None
) -> str:
    """End a binding someone other than its pod decided to end (the caller holds the pool's size
    lock and has checked it is the binding it meant), audited as `msg` and what happened."""
    outcome = unbind_locked(pool=pool, lease=lease, now=now)
    audit_record(
        ctx,
        workload=pool.workload,
        pod_id=lease.pod_id,
        ip=address.ip,
        subnet_id=pool.subnet.subnet_id,
        msg=f"{msg}; {outcome}",
        at=now,
        detail=detail,
    )
    return outcome


def restore_binding_locked(
    ctx: CallContext, *, pool: Pool, address: Address, pod_id: str, now, msg: str, detail: dict | None = None
) -> Lease:
    """Bind the address (reserved by the locked pool, bound to no pod, its row locked) to a pod that
    is seen to hold it already: reconcile's repair of a binding a database failover lost."""
    Address.objects.filter(pk=address.pk).update(idle_since=None)
    lease = Lease.objects.create(address=address, pool=pool, pod_id=pod_id, bound_at=now)
    audit_record(
        ctx,
        workload=pool.workload,
        pod_id=pod_id,
        ip=address.ip,
        subnet_id=pool.subnet.subnet_id,
        msg=msg,
        at=now,
        detail=detail,
    )
    return lease


def unbind_locked(*, pool: Pool, lease: Lease, now) -> str:
    """The pod lets go of the pool's address (the caller holds the pool's size lock): it becomes
    idle, or goes back to the subnet when the pool does not keep it (released past its grace, or
    above its target). Returns what happened."""
    Lease.objects.filter(pk=lease.pk).delete()
    if pool.keeps_freed_address(now):
        Address.objects.filter(pk=lease.address_id).update(idle_since=now)
        return IDLE_MSG
    allocation.return_address_locked(pool, lease.address_id)
    return RETURNED_MSG
