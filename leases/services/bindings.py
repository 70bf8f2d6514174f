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
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone

from audit.recording import audit_insert_sql, audit_record, audit_values
from core.choices import Code, PoolState
from core.domain import CallContext, Workload
from core.errors import ServiceError
from core.transactions import retrying, service_transaction
from leases.models import Lease
from leases.tables import quoted_tables
from pools import allocation
from pools.models import Address, Pool

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


def workload_params(workload: Workload) -> list:
    return [workload.cluster_id, workload.namespace, workload.kind, workload.name, PoolState.ACTIVE]


WORKLOAD_POOL_SQL = "p.k8s_cluster_id = %s AND p.namespace = %s AND p.kind = %s AND p.name = %s"


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
            f"SELECT p.id FROM {t['pool']} p WHERE {WORKLOAD_POOL_SQL} AND p.state = %s", workload_params(workload)
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
        WHERE {WORKLOAD_POOL_SQL} AND p.state = %s
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
        *workload_params(workload),
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
