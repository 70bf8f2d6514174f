"""Binding addresses to pods and letting them go: the CNI plugin's two calls and the console's
address actions. The same rules for every door.

A binding is two rows changed together: the lease is written and the address leaves the idle
queue (or rejoins it, when the pod lets go).

Locks, and why binding never waits for the pool (SPEC's rules hold under any concurrency):
- Binding an idle address takes no pool lock. The address row is taken with FOR UPDATE SKIP LOCKED
  (concurrent binders each take another one) and the lease's unique keys settle "this pod already
  holds one": a lost race is retried and finds the winner's lease. So a pod gets the address idle
  longest among those not being bound at that instant.
- Letting an address go back to idle takes the pool's row FOR SHARE: unbinders do not wait for
  each other, but a change of the pool's size (pools.allocation, FOR NO KEY UPDATE) waits for them,
  and they for it, so no idle address can appear beyond a target that was just lowered.
- Growing the pool (a surge) and giving an address back to the subnet take the pool's row FOR NO
  KEY UPDATE, as every size change does (pools.allocation).
On PostgreSQL the common cases (bind an idle address, let one go back to idle) are one statement
each, lease, queue and audit event together; every other case, and SQLite (one writer at a time),
takes the general path: one transaction under the pool's size lock."""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass, replace
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
from leases.tables import quoted_tables
from pools import allocation
from pools.models import Address, Pool, QuarantinedAddress, SubnetExclusion

BOUND_MSG = "idle address bound"
HELD_MSG = "pod already holds this address"
IDLE_MSG = "address idle"
RETURNED_MSG = "address returned to the subnet"
NOTHING_BOUND_MSG = "nothing bound to this pod; nothing to do"


@dataclass(frozen=True)
class RequiredAddress:
    """What RequireIP answers."""

    ip: str
    mac: str
    port_id: str
    gateway: str
    cidr: str
    msg: str


def _port_id_text(value) -> str:
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


def _workload_params(workload: Workload) -> list:
    return [workload.cluster_id, workload.namespace, workload.kind, workload.name, PoolState.ACTIVE]


_WORKLOAD_POOL = "p.k8s_cluster_id = %s AND p.namespace = %s AND p.kind = %s AND p.name = %s"


def one_statement_paths() -> bool:
    """Whether the common cases take PostgreSQL's one statement. IPRESMGR_ONE_STATEMENT_PATHS off
    sends every call down the general path (which decides everything the statement does, and more),
    so that a test can drive one scenario through both and compare (tests/allocation/test_two_paths.py)."""
    return connection.vendor == "postgresql" and settings.IPRESMGR_ONE_STATEMENT_PATHS


# RequireIP ---------------------------------------------------------------------------------------------


def ip_require(*, ctx: CallContext, workload: Workload, pod_id: str, resource_id: str = "") -> RequiredAddress:
    """Bind an address of the workload's active pool to the pod: the one it already holds (CNI
    ADD is retried), else the one idle longest, else a surge address from the subnet."""
    if one_statement_paths():
        for _round in range(SURGE_WAIT_ROUNDS):
            found = retrying(_require_in_one_statement)(
                ctx=ctx, workload=workload, pod_id=pod_id, resource_id=resource_id
            )
            if found is not None:
                return found
            if not retrying(_waited_for_a_surge)(workload, pod_id):
                break
    return _require_under_pool_lock(ctx=ctx, workload=workload, pod_id=pod_id, resource_id=resource_id)


# Binders that find the pool empty while another one holds its size lock (growing it) wait for
# that one together and try the lock-free bind again: the one growing the pool reserves an address
# for each of them in the same step (`_surge_count_locked`), instead of one size-lock round each.
# A bounded number of rounds, then the general path's queue.
SURGE_WAIT_ROUNDS = 4
INT4_MAX = 2**31 - 1


def _surge_waiter_key(pool_id: int, pod_id: str) -> int:
    """The advisory lock a binder waiting for a surge holds: the pool's id in the high half (what
    pg_locks shows as classid), the pod in the low half, so that a pod's retries count once."""
    return (pool_id << 32) | (zlib.crc32(pod_id.encode()) & INT4_MAX)


@service_transaction
def _waited_for_a_surge(workload: Workload, pod_id: str) -> bool:
    """PostgreSQL: when another transaction holds the pool's size lock, wait until it ends, counted
    among the binders waiting for a surge, and say so (True). False, at once, when nobody holds it
    (or the pool is gone): the caller takes the lock itself."""
    t = quoted_tables()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.id FROM {t['pool']} p WHERE {_WORKLOAD_POOL} AND p.state = %s", _workload_params(workload)
        )
        row = cursor.fetchone()
        if row is None or row[0] > INT4_MAX:
            return False
        pool_id = row[0]
        cursor.execute(f"SELECT 1 FROM {t['pool']} WHERE id = %s FOR NO KEY UPDATE SKIP LOCKED", [pool_id])
        if cursor.fetchone() is not None:
            return False  # free: the caller grows the pool (this lock ends with this transaction)
        # Counted (shared, so waiters do not wait for each other), then wait with the release path's
        # lock: it waits for the size lock's holder, not for other waiters.
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [_surge_waiter_key(pool_id, pod_id)])
        cursor.execute(f"SELECT 1 FROM {t['pool']} WHERE id = %s FOR SHARE", [pool_id])
    return True


def _surge_count_locked(pool) -> int:
    """Addresses a surge reserves for the locked pool: one for this binder and one for each binder
    waiting for it (`_waited_for_a_surge`), within the surge limit."""
    limit = pool.target + pool.surge_allowance
    waiting = 0
    if connection.vendor == "postgresql" and pool.pk <= INT4_MAX:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(DISTINCT objid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND mode = 'ShareLock' AND objsubid = 1 AND classid::bigint = %s",
                [pool.pk],
            )
            waiting = cursor.fetchone()[0]
    return max(1, min(1 + waiting, limit - pool.reserved_count))


def _require_in_one_statement(*, ctx, workload, pod_id, resource_id) -> RequiredAddress | None:
    """PostgreSQL: the address the pod holds, or the idle one it just got, with the audit event,
    in one statement (atomic on its own). None when the pool must grow, or has no idle address
    free of concurrent binders: the general path decides, under the pool's lock."""
    now = timezone.now()
    t = quoted_tables()
    audit_sql, audit_params = audit_insert_sql(
        audit_values(ctx, workload=workload, pod_id=pod_id, at=now),
        from_sql={"ip": "answer.ip", "subnet_id": "pool.subnet_id", "msg": "answer.msg"},
        source="answer, pool",
    )
    sql = f"""
    WITH pool AS (
        SELECT p.id, p.target, p.reserved_count, p.kind, s.subnet_id, s.gateway, s.cidr
        FROM {t["pool"]} p JOIN {t["subnet"]} s ON s.id = p.subnet_id
        WHERE {_WORKLOAD_POOL} AND p.state = %s
    ),
    held AS (
        SELECT a.ip, a.mac, a.port_id FROM {t["lease"]} l JOIN {t["address"]} a ON a.id = l.address_id
        WHERE l.pool_id = (SELECT id FROM pool) AND l.pod_id = %s
    ),
    taken AS (
        UPDATE {t["address"]} SET idle_since = NULL
        WHERE id = (
            SELECT id FROM {t["address"]} WHERE pool_id = (SELECT id FROM pool) AND idle_since IS NOT NULL
            ORDER BY idle_since, id LIMIT 1 FOR UPDATE SKIP LOCKED
        ) AND NOT EXISTS (SELECT 1 FROM held)
        RETURNING id, ip, mac, port_id
    ),
    leased AS (
        INSERT INTO {t["lease"]} (address_id, pool_id, pod_id, k8s_resource_id, bound_at)
        SELECT taken.id, pool.id, %s, %s, %s FROM taken, pool RETURNING address_id
    ),
    answer AS (
        SELECT taken.ip, taken.mac, taken.port_id, %s AS msg FROM taken JOIN leased ON leased.address_id = taken.id
        UNION ALL
        SELECT ip, mac, port_id, %s FROM held
    ),
    audited AS ({audit_sql})
    SELECT pool.subnet_id, pool.gateway, pool.cidr, answer.ip, answer.mac, answer.port_id, answer.msg,
           pool.target, pool.reserved_count, pool.kind
    FROM pool LEFT JOIN answer ON true
    """
    params = [
        *_workload_params(workload),
        pod_id,
        pod_id,
        resource_id,
        connection.ops.adapt_datetimefield_value(now),
        BOUND_MSG,
        HELD_MSG,
        *audit_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise ServiceError(Code.POOL_NOT_FOUND, f"workload {workload} has no active pool")
    _subnet_id, gateway, cidr, ip, mac, port_id, msg, target, reserved, kind = row
    if ip is None:
        limit = target + Pool(target=target, kind=kind).surge_allowance
        if reserved >= limit:  # no idle address and no surge left: no size lock needed to say so
            raise _no_address_error(reserved, target, limit)
        return None
    return RequiredAddress(ip=ip, mac=mac, port_id=_port_id_text(port_id), gateway=gateway, cidr=cidr, msg=msg)


@service_transaction
def _require_under_pool_lock(*, ctx, workload, pod_id, resource_id) -> RequiredAddress:
    """The general path, under the pool's size lock: the address the pod holds, else the one
    idle longest (waiting for binders in flight: an address they leave idle is still better than
    growing the pool), else a surge address from the subnet."""
    now = timezone.now()
    pool = allocation.lock_active_pool(workload)
    if pool is None:
        raise ServiceError(Code.POOL_NOT_FOUND, f"workload {workload} has no active pool")
    held = Lease.objects.filter(pool=pool, pod_id=pod_id).select_related("address").first()
    if held is not None:
        address, msg = held.address, HELD_MSG
    else:
        address = (
            Address.objects.filter(pool=pool, idle_since__isnull=False)
            .order_by("idle_since", "id")
            .select_for_update()
            .first()
        )
        if address is not None:
            Address.objects.filter(pk=address.pk).update(idle_since=None)
            msg = BOUND_MSG
        else:
            limit = pool.target + pool.surge_allowance
            if pool.reserved_count >= limit:
                raise _no_address_error(pool.reserved_count, pool.target, limit)
            # This binder's address, and one idle for each binder waiting for this surge.
            address, *_for_waiting = allocation.reserve_locked(
                pool=pool, count=_surge_count_locked(pool), now=now, bound=1
            )
            msg = f"surge address reserved ({pool.reserved_count} of at most {limit})"
        Lease.objects.create(address=address, pool=pool, pod_id=pod_id, k8s_resource_id=resource_id, bound_at=now)
    subnet = pool.subnet
    audit_record(ctx, workload=workload, pod_id=pod_id, ip=address.ip, subnet_id=subnet.subnet_id, msg=msg, at=now)
    return RequiredAddress(
        ip=address.ip,
        mac=address.mac,
        port_id=_port_id_text(address.port_id),
        gateway=subnet.gateway,
        cidr=subnet.cidr,
        msg=msg,
    )


def _no_address_error(reserved: int, target: int, limit: int) -> ServiceError:
    return ServiceError(
        Code.NO_ADDRESS_AVAILABLE,
        f"all {reserved} addresses of the pool are bound (target {target}, surge limit {limit})",
    )


# ReleaseIP ---------------------------------------------------------------------------------------------


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
    which = "a.ip = %s" if ip else "l.pod_id = %s"
    event = audit_values(ctx, workload=workload, pod_id=pod_id, at=now)
    idle_audit, idle_params = audit_insert_sql(
        {**event, "msg": IDLE_MSG}, from_sql={"ip": "idled.ip", "subnet_id": "idled.subnet_id"}, source="idled"
    )
    nothing_audit, nothing_params = audit_insert_sql(
        {**event, "ip": ip, "msg": NOTHING_BOUND_MSG}, from_sql={}, source="(SELECT 1) one"
    )
    sql = f"""
    WITH found AS (
        SELECT l.address_id, l.pod_id, s.subnet_id,
               (p.state = %s AND p.reserved_count <= p.target)
               OR (p.state = %s AND %s AND p.released_at > %s) AS keeps
        FROM {t["pool"]} p JOIN {t["lease"]} l ON l.pool_id = p.id
        JOIN {t["address"]} a ON a.id = l.address_id JOIN {t["subnet"]} s ON s.id = p.subnet_id
        WHERE {_WORKLOAD_POOL} AND {which}
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
        PoolState.ACTIVE,
        PoolState.RELEASED,
        grace > 0,
        connection.ops.adapt_datetimefield_value(grace_cutoff),
        *_workload_params(workload)[:4],
        ip or pod_id,
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


# The console's address actions ----------------------------------------------------------------------


def _lock_idle_address(address_pk: int) -> tuple[Pool, Address]:
    """Lock an address's pool and the address, refusing one in use: the console frees bindings
    explicitly."""
    pool, address = allocation.lock_address(address_pk)
    lease = Lease.objects.filter(address=address).first()
    if lease is not None:
        raise ServiceError(
            Code.ADDRESS_CONFLICT, f"IP: {address.ip} is bound to pod {lease.pod_id}; force-release it first"
        )
    return pool, address


@service_transaction
def binding_force_release(*, ctx: CallContext, address: Address, expected_pod_id: str) -> str:
    """Take a bound address away from its pod, from the console, as the pod's own ReleaseIP would.

    `expected_pod_id` is the pod the operator confirmed; if the address is bound to another pod
    (or to none) by now, nothing changes. Returns what happened to the address."""
    now = timezone.now()
    pool, address = allocation.lock_address(address.pk)
    lease = Lease.objects.filter(address=address).first()
    if lease is None or lease.pod_id != expected_pod_id:
        now_held = f"bound to pod {lease.pod_id}" if lease is not None else "not bound"
        raise ServiceError(
            Code.ADDRESS_CONFLICT,
            f"IP: {address.ip} is {now_held}, not to pod {expected_pod_id} as confirmed; nothing released",
        )
    return end_binding_locked(
        ctx, pool=pool, address=address, lease=lease, now=now, msg=f"binding of pod {expected_pod_id} force-released"
    )


@service_transaction
def address_hold(*, ctx: CallContext, address: Address, reason: str = "") -> SubnetExclusion:
    """Hold an idle address back for good: exclude it from its subnet and take it out of its pool.

    A bound address is refused: force-release it first. The pool is one address short of its
    target afterwards; the next scale, create or require reserves another one."""
    now = timezone.now()
    pool, address = _lock_idle_address(address.pk)
    subnet = allocation.lock_subnet(pool.subnet_id)
    label = f"held by {ctx.actor.label}" + (f": {reason}" if reason else "")
    exclusion = SubnetExclusion.objects.create(
        subnet=subnet, first_ip=address.ip, last_ip=address.ip, reason=label[:200]
    )
    allocation.return_address_locked(pool, address.pk)
    audit_record(
        ctx,
        workload=pool.workload,
        ip=address.ip,
        subnet_id=subnet.subnet_id,
        msg=f"{address.ip} held back (excluded from {subnet.subnet_id}); {label}",
        at=now,
    )
    return exclusion


@service_transaction
def address_return_idle(*, ctx: CallContext, address: Address) -> None:
    """Give one idle address of a pool back to its subnet. A bound address is refused."""
    now = timezone.now()
    pool, address = _lock_idle_address(address.pk)
    allocation.return_address_locked(pool, address.pk)
    audit_record(
        ctx,
        workload=pool.workload,
        ip=address.ip,
        subnet_id=pool.subnet.subnet_id,
        msg=f"idle {address.ip} returned to {pool.subnet.subnet_id}; "
        f"pool holds {pool.reserved_count} (target {pool.target})",
        at=now,
    )
