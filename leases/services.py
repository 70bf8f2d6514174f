"""Binding addresses to pods and letting them go: the CNI plugin's two calls and the console's
address actions. The same rules for every door.

Every change here happens under the pool's row lock (pools.allocation), and a binding is two rows
changed together: the lease is written and the address leaves (or rejoins) the idle queue."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from leases.models import Lease
from pools import addressing, allocation
from pools.audit import audit_record
from pools.choices import Code
from pools.domain import CallContext, Workload
from pools.errors import ServiceError
from pools.models import Address, Pool, SubnetExclusion
from pools.transactions import service_transaction


@dataclass(frozen=True)
class RequiredAddress:
    """What RequireIP answers."""

    ip: str
    mac: str
    port_id: str
    gateway: str
    cidr: str
    msg: str


# Binding and unbinding, under the pool's lock ----------------------------------------------------

_ADDRESS = Address._meta.db_table
_LEASE = Lease._meta.db_table
# PostgreSQL binds in one statement: take the address idle longest out of the queue and write its
# lease, unless the pod already holds one in the pool; and unbinds in one. SQLite (no UPDATE or
# DELETE inside WITH) takes two each.
_TAKE_IDLE = f"""
UPDATE {_ADDRESS} SET idle_since = NULL
WHERE id = (SELECT id FROM {_ADDRESS} WHERE pool_id = %s AND idle_since IS NOT NULL ORDER BY idle_since, id LIMIT 1)
  AND NOT EXISTS (SELECT 1 FROM {_LEASE} WHERE pool_id = %s AND pod_id = %s)
RETURNING id, ip, mac, port_id
"""
_WRITE_LEASE = f"""
INSERT INTO {_LEASE} (address_id, pool_id, pod_id, k8s_resource_id, bound_at) VALUES (%s, %s, %s, %s, %s)
"""
_BIND_IDLE_POSTGRES = f"""
WITH taken AS ({_TAKE_IDLE}),
leased AS (
    INSERT INTO {_LEASE} (address_id, pool_id, pod_id, k8s_resource_id, bound_at)
    SELECT id, %s, %s, %s, %s FROM taken RETURNING address_id
)
SELECT taken.ip, taken.mac, taken.port_id FROM taken JOIN leased ON leased.address_id = taken.id
"""


def _bind_idle_locked(*, pool: Pool, pod_id: str, resource_id: str, now) -> tuple[str, str, str] | None:
    """(ip, mac, port_id) of the locked pool's address idle longest, just bound to the pod; None if
    the pod already holds one in the pool or none is idle."""
    at = connection.ops.adapt_datetimefield_value(now)
    take = [pool.pk, pool.pk, pod_id]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_BIND_IDLE_POSTGRES, [*take, pool.pk, pod_id, resource_id, at])
            row = cursor.fetchone()
        else:
            cursor.execute(_TAKE_IDLE, take)
            taken = cursor.fetchone()
            row = None
            if taken is not None:
                cursor.execute(_WRITE_LEASE, [taken[0], pool.pk, pod_id, resource_id, at])
                row = taken[1:]
    if row is None:
        return None
    ip, mac, port_id = row
    return ip, mac, str(uuid.UUID(str(port_id)))


_END_LEASE = f"DELETE FROM {_LEASE} WHERE address_id = %s"
_REJOIN_QUEUE = f"UPDATE {_ADDRESS} SET idle_since = %s WHERE id = %s"
_UNBIND_TO_IDLE_POSTGRES = f"""
WITH ended AS ({_END_LEASE} RETURNING address_id)
UPDATE {_ADDRESS} SET idle_since = %s WHERE id = (SELECT address_id FROM ended)
"""


def unbind_locked(*, pool: Pool, lease: Lease, now) -> str:
    """The pod lets go of the locked pool's address: it becomes idle, or goes back to the subnet
    when the pool does not keep it (released past its grace, or above its target)."""
    if not pool.keeps_freed_address(now):
        Lease.objects.filter(pk=lease.pk).delete()
        allocation.return_address_locked(pool, lease.address_id)
        return "address returned to the subnet"
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_UNBIND_TO_IDLE_POSTGRES, [lease.address_id, at])
        else:
            cursor.execute(_END_LEASE, [lease.address_id])
            cursor.execute(_REJOIN_QUEUE, [at, lease.address_id])
    return "address idle"


# The CNI plugin's calls ---------------------------------------------------------------------------


@service_transaction
def ip_require(*, ctx: CallContext, workload: Workload, pod_id: str, resource_id: str = "") -> RequiredAddress:
    """Bind an address of the workload's active pool to the pod: the one it already holds (CNI
    ADD is retried), else the one idle longest, else a surge address from the subnet."""
    now = timezone.now()
    pool = allocation.lock_active_pool(workload)
    if pool is None:
        raise ServiceError(Code.POOL_NOT_FOUND, f"workload {workload} has no active pool")
    bound = _bind_idle_locked(pool=pool, pod_id=pod_id, resource_id=resource_id, now=now)
    if bound is not None:
        ip, mac, port_id = bound
        msg = "idle address bound"
    else:
        held = Lease.objects.filter(pool=pool, pod_id=pod_id).select_related("address").first()
        if held is not None:
            address = held.address
            msg = "pod already holds this address"
        else:
            limit = pool.target + pool.surge_allowance
            if pool.reserved_count >= limit:
                raise ServiceError(
                    Code.NO_ADDRESS_AVAILABLE,
                    f"all {pool.reserved_count} addresses of the pool are bound "
                    f"(target {pool.target}, surge limit {limit})",
                )
            (address,) = allocation.reserve_locked(pool=pool, count=1, now=now, idle=False)
            Lease.objects.create(address=address, pool=pool, pod_id=pod_id, k8s_resource_id=resource_id, bound_at=now)
            msg = f"surge address reserved ({pool.reserved_count} of at most {limit})"
        ip, mac, port_id = address.ip, address.mac, str(address.port_id)
    subnet = pool.subnet
    audit_record(ctx, workload=workload, pod_id=pod_id, ip=ip, subnet_id=subnet.subnet_id, msg=msg, at=now)
    return RequiredAddress(ip=ip, mac=mac, port_id=port_id, gateway=subnet.gateway, cidr=subnet.cidr, msg=msg)


@service_transaction
def ip_release(*, ctx: CallContext, workload: Workload, pod_id: str, ip: str = "") -> list[str]:
    """Release what the pod holds in the workload's pools (active or released: pods outlive
    their workload while they terminate). Nothing bound is success; another pod's is 31."""
    now = timezone.now()
    if ip:
        ip = str(addressing.parse_ip(ip))
        candidates = Address.objects.filter(ip=ip)
    else:
        candidates = Address.objects.filter(lease__pod_id=pod_id)
    # Lock, in id order, the workload's pools that hold a candidate; then read the leases afresh
    # under those locks.
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
        audit_record(
            ctx, workload=workload, pod_id=pod_id, ip=ip, msg="nothing bound to this pod; nothing to do", at=now
        )
    return released


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
    outcome = unbind_locked(pool=pool, lease=lease, now=now)
    audit_record(
        ctx,
        workload=pool.workload,
        pod_id=expected_pod_id,
        ip=address.ip,
        subnet_id=pool.subnet.subnet_id,
        msg=f"binding of pod {expected_pod_id} force-released; {outcome}",
        at=now,
    )
    return outcome


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
