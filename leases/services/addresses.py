"""The console's address actions: force-release a binding, hold an idle address back, give one
back to its subnet. Each locks the address's pool, checks, and audits what it did."""

from __future__ import annotations

from django.utils import timezone

from audit.recording import audit_record
from core.choices import Code
from core.domain import CallContext
from core.errors import ServiceError
from core.transactions import service_transaction
from leases.models import Lease
from leases.services.releases import end_binding_locked
from pools import allocation
from pools.models import Address, Pool, SubnetExclusion


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
