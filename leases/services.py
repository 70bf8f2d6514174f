"""Binding addresses to pods and letting them go. The same rules for the CNI plugin and the admin.

Every change to an address happens under its pool's row lock (see pools.services)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from pools import addressing
from pools.audit import audit_record
from pools.choices import Code
from pools.domain import CallContext, Workload
from pools.errors import ServiceError
from pools.models import Address, Pool
from pools.services import address_return, grace_expired, reserve_addresses, surge_allowance


@dataclass(frozen=True)
class Lease:
    ip: str
    mac: str
    port_id: str
    gateway: str
    cidr: str
    msg: str


# The hot path of require, in one statement: bind the pool's address idle longest to the pod,
# unless the pod already holds one. Raw SQL only for RETURNING, which update() lacks; PostgreSQL
# and SQLite (3.35+) both run it. The caller holds the pool's row lock, so no one else binds here.
_ADDRESS_TABLE = Address._meta.db_table
_BIND_IDLE_SQL = f"""
UPDATE {_ADDRESS_TABLE} SET pod_id = %s, k8s_resource_id = %s, bound_at = %s, idle_since = NULL
WHERE id = (SELECT id FROM {_ADDRESS_TABLE} WHERE pool_id = %s AND pod_id IS NULL ORDER BY idle_since, id LIMIT 1)
  AND NOT EXISTS (SELECT 1 FROM {_ADDRESS_TABLE} WHERE pool_id = %s AND pod_id = %s)
RETURNING ip, mac, port_id
"""


def _bind_idle(*, pool: Pool, pod_id: str, resource_id: str, now) -> tuple[str, str, str] | None:
    """(ip, mac, port_id) of the idle address just bound to the pod; None if the pod already
    holds one in the pool or none is idle."""
    with connection.cursor() as cursor:
        cursor.execute(
            _BIND_IDLE_SQL,
            [pod_id, resource_id, connection.ops.adapt_datetimefield_value(now), pool.pk, pool.pk, pod_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    ip, mac, port_id = row
    return ip, mac, str(uuid.UUID(str(port_id)))


@transaction.atomic
def ip_require(*, ctx: CallContext, workload: Workload, pod_id: str, resource_id: str = "") -> Lease:
    """Bind an address of the workload's active pool to the pod: the one it already holds (CNI
    ADD is retried), else the one idle longest, else a surge address from the subnet."""
    now = timezone.now()
    pool = (
        Pool.objects.active()
        .filter(**workload.as_filter())
        .select_related("subnet")
        .select_for_update(of=("self",))
        .first()
    )
    if pool is None:
        raise ServiceError(Code.POOL_NOT_FOUND, f"workload {workload} has no active pool")
    bound = _bind_idle(pool=pool, pod_id=pod_id, resource_id=resource_id, now=now)
    if bound is not None:
        ip, mac, port_id = bound
        msg = "idle address bound"
    else:
        address = Address.objects.filter(pool=pool, pod_id=pod_id).order_by("pk").first()
        if address is not None:
            msg = "pod already holds this address"
        else:
            limit = pool.target + surge_allowance(pool)
            if pool.reserved_count >= limit:
                raise ServiceError(
                    Code.NO_ADDRESS_AVAILABLE,
                    f"all {pool.reserved_count} addresses of the pool are bound "
                    f"(target {pool.target}, surge limit {limit})",
                )
            (address,) = reserve_addresses(pool=pool, count=1, now=now, bind_pod=pod_id, resource_id=resource_id)
            msg = f"surge address reserved ({pool.reserved_count} of at most {limit})"
        ip, mac, port_id = address.ip, address.mac, str(address.port_id)
    audit_record(ctx, workload=workload, pod_id=pod_id, ip=ip, subnet_id=pool.subnet.subnet_id, msg=msg, at=now)
    return Lease(ip=ip, mac=mac, port_id=port_id, gateway=pool.subnet.gateway, cidr=pool.subnet.cidr, msg=msg)


def unbind(*, pool: Pool, address: Address, now) -> str:
    """Let a locked pool's bound address go: idle again, or back to the subnet when the pool is
    released (and its grace is over) or holds more than its target. Returns what happened."""
    if (not pool.is_active and grace_expired(pool, now)) or (pool.is_active and pool.reserved_count > pool.target):
        address_return(pool=pool, address=address)
        return "address returned to the subnet"
    Address.objects.filter(pk=address.pk).update(pod_id=None, k8s_resource_id="", bound_at=None, idle_since=now)
    return "address idle"


@transaction.atomic
def ip_release(*, ctx: CallContext, workload: Workload, pod_id: str, ip: str = "") -> list[str]:
    """Release what the pod holds in the workload's pools (active or released: pods outlive
    their workload while they terminate). Nothing bound is success; another pod's is 31."""
    now = timezone.now()
    if ip:
        candidates = Address.objects.filter(ip=str(addressing.parse_ip(ip)))
    else:
        candidates = Address.objects.filter(pod_id=pod_id)
    released: list[str] = []
    # Lock, in id order, the workload's pools that hold a candidate; then read the addresses
    # afresh under those locks.
    pools = {
        p.pk: p
        for p in Pool.objects.filter(**workload.as_filter(), pk__in=candidates.values("pool_id"))
        .select_related("subnet")
        .select_for_update(of=("self",))
        .order_by("pk")
    }
    pool_ids = list(pools)
    for address in candidates.filter(pool_id__in=pool_ids).order_by("pool_id", "id"):
        if address.pod_id is None:
            continue
        if address.pod_id != pod_id:
            raise ServiceError(
                Code.ADDRESS_CONFLICT,
                f"IP: {address.ip} is bound to another pod, not {pod_id}; nothing released",
            )
        pool = pools[address.pool_id]
        outcome = unbind(pool=pool, address=address, now=now)
        released.append(address.ip)
        # One event per address, so that "who held this IP" is an exact, indexed lookup.
        audit_record(
            ctx, workload=workload, pod_id=pod_id, ip=address.ip, subnet_id=pool.subnet.subnet_id, msg=outcome, at=now
        )
    if not released:
        shown_ip = str(addressing.parse_ip(ip)) if ip else ""
        audit_record(
            ctx, workload=workload, pod_id=pod_id, ip=shown_ip, msg="nothing bound to this pod; nothing to do", at=now
        )
    return released


@transaction.atomic
def binding_force_release(*, ctx: CallContext, address: Address, expected_pod_id: str) -> str:
    """Take a bound address away from its pod, from the console, as the pod's own ReleaseIP would.

    `expected_pod_id` is the pod the operator confirmed; if the address is bound to another pod
    (or to none) by now, nothing changes. Returns what happened to the address."""
    from pools.services import lock_address, workload_of

    now = timezone.now()
    pool, address = lock_address(address.pk)
    if address.pod_id != expected_pod_id:
        now_held = f"bound to pod {address.pod_id}" if address.is_bound else "not bound"
        raise ServiceError(
            Code.ADDRESS_CONFLICT,
            f"IP: {address.ip} is {now_held}, not to pod {expected_pod_id} as confirmed; nothing released",
        )
    outcome = unbind(pool=pool, address=address, now=now)
    audit_record(
        ctx,
        workload=workload_of(pool),
        pod_id=expected_pod_id,
        ip=address.ip,
        subnet_id=pool.subnet.subnet_id,
        msg=f"binding of pod {expected_pod_id} force-released; {outcome}",
        at=now,
    )
    return outcome
