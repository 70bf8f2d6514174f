"""Binding addresses to pods and letting them go. The same rules for the CNI plugin and the admin.

Every change to an address happens under its pool's row lock (see pools.services)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
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
    msg: str


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
    address = Address.objects.filter(pool=pool, pod_id=pod_id).first()
    if address is not None:
        msg = "pod already holds this address"
    else:
        address = Address.objects.filter(pool=pool, pod_id__isnull=True).order_by("idle_since", "id").first()
        if address is not None:
            Address.objects.filter(pk=address.pk).update(
                pod_id=pod_id, k8s_resource_id=resource_id, bound_at=now, idle_since=None
            )
            msg = "idle address bound"
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
    audit_record(ctx, workload=workload, pod_id=pod_id, ip=address.ip, subnet_id=pool.subnet.subnet_id, msg=msg, at=now)
    return Lease(ip=address.ip, mac=address.mac, port_id=str(address.port_id), gateway=pool.subnet.gateway, msg=msg)


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
    candidates = Address.objects.filter(**{f"pool__{k}": v for k, v in workload.as_filter().items()})
    if ip:
        candidates = candidates.filter(ip=str(addressing.parse_ip(ip)))
    else:
        candidates = candidates.filter(pod_id=pod_id)
    pool_ids = sorted({pool_id for pool_id in candidates.values_list("pool_id", flat=True)})
    released: list[str] = []
    # Lock the pools in id order, then read the addresses afresh under those locks.
    pools = {
        p.pk: p
        for p in Pool.objects.filter(pk__in=pool_ids)
        .select_related("subnet")
        .select_for_update(of=("self",))
        .order_by("pk")
    }
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
