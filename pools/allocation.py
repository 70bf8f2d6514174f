"""Which addresses a pool reserves, and the locks that guard it. The one module that changes a
pool's size: reserving addresses from its subnet and giving them back.

Lock order, everywhere: the pool's row, then (only to reserve new addresses) its subnet's row.
Both FOR NO KEY UPDATE: rows that merely refer to them (a new pool, a new lease, whose foreign key
checks take FOR KEY SHARE) need not wait. Binding an idle address takes no pool lock at all, and
letting one go back to idle takes the pool FOR SHARE (leases.services): a size change waits for
those and they for it, but they do not wait for each other. Addresses that go back to the subnet
are deleted under the pool lock alone.

`lock_*` functions take a lock and return the row read afresh under it. Functions named `*_locked`
assume the caller holds the pool's lock (and say which other lock they take); they change rows and
`pool.reserved_count` together, so the count stays exact."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import F, Sum

from core import addressing
from core.choices import Code, PoolState
from core.domain import Workload
from core.errors import ServiceError
from pools import subnet_space
from pools.models import Address, Pool, QuarantinedAddress, Subnet, SubnetGrant

# Locks ------------------------------------------------------------------------------------------


def lock_active_pool(workload: Workload) -> Pool | None:
    """The workload's active pool, locked, with its subnet (not locked)."""
    return (
        Pool.objects.active()
        .filter(**workload.as_filter())
        .select_related("subnet")
        .select_for_update(no_key=True, of=("self",))
        .first()
    )


def lock_pool(pool_pk: int) -> Pool:
    """A pool by key, locked, with its subnet (not locked)."""
    pool = Pool.objects.select_related("subnet").select_for_update(no_key=True, of=("self",)).filter(pk=pool_pk).first()
    if pool is None:
        raise ServiceError(Code.POOL_NOT_FOUND, "the pool no longer exists")
    return pool


def lock_pools_holding(workload: Workload, pool_ids) -> dict[int, Pool]:
    """The workload's pools (active or released) among `pool_ids` (a subquery), locked in id order."""
    pools = (
        Pool.objects.filter(**workload.as_filter(), pk__in=pool_ids)
        .select_related("subnet")
        .select_for_update(no_key=True, of=("self",))
        .order_by("pk")
    )
    return {pool.pk: pool for pool in pools}


def lock_subnet(subnet_pk: int) -> Subnet:
    """Taken after the pool lock, to reserve new addresses or change the subnet's definition."""
    return Subnet.objects.select_for_update(no_key=True).get(pk=subnet_pk)


def lock_address(address_pk: int) -> tuple[Pool, Address]:
    """Lock the pool of an address, then read the address afresh under that lock."""
    pool_pk = Address.objects.filter(pk=address_pk).values_list("pool_id", flat=True).first()
    if pool_pk is None:
        raise ServiceError(Code.INVALID_REQUEST, "the address is no longer reserved by any pool")
    pool = lock_pool(pool_pk)
    address = Address.objects.filter(pk=address_pk, pool=pool).first()
    if address is None:
        raise ServiceError(Code.INVALID_REQUEST, "the address is no longer reserved by this pool")
    return pool, address


# Reserving and returning, under the pool's lock -------------------------------------------------


def reserve_locked(*, pool: Pool, count: int, now, bound: int = 0) -> list[Address]:
    """Reserve `count` new addresses from the pool's subnet for the locked pool, all or none.

    The one place a pool grows (create, scale, a require's surge), so the subnet's access rules
    are checked here: the pool's cluster must be allowed to use the subnet (Code 3) and stay
    within its quota there (Code 12). `count` 0 reserves nothing but still checks access (a new
    pool of 0 replicas). Takes the subnet's lock. The first `bound` new addresses start in use
    (the caller binds them at once, as a surge does); the others idle."""
    if count < 0:
        raise ValueError("count must not be negative")
    max_batch = settings.IPRESMGR_MAX_RESERVE_PER_CALL
    if count > max_batch:
        # Checked before any lock: it depends on nothing in the database. Not Code 12: the subnet
        # may well have room; the request is too big for one transaction.
        raise ServiceError(
            Code.INVALID_REQUEST,
            f"{count} addresses asked for at once; this server reserves at most {max_batch} per call "
            "(IPRESMGR_MAX_RESERVE_PER_CALL); nothing reserved",
        )
    subnet = lock_subnet(pool.subnet_id)
    _check_access_locked(subnet=subnet, pool=pool, count=count)
    if count == 0:
        return []
    purge_expired_released(subnet, now)
    blocked = subnet_space.blocked_ranges(subnet)
    picked = subnet_space.find_free(subnet, blocked, count) if count <= subnet_space.capacity(subnet, blocked) else []
    if len(picked) < count:
        free = len(picked) if picked else "too few"
        raise ServiceError(
            Code.SUBNET_EXHAUSTED,
            f"subnet {subnet.subnet_id} ({subnet.cidr}) has {free} free addresses; {count} needed; nothing reserved",
        )
    rows = [
        Address(
            subnet=subnet,
            net_regional_id=subnet.net_regional_id,
            pool=pool,
            ip=subnet_space.ip_text(subnet, value),
            ip_key=addressing.ip_key(value),
            mac=addressing.new_mac(),
            reserved_at=now,
            idle_since=None if k < bound else now,
        )
        for k, value in enumerate(picked)
    ]
    Address.objects.bulk_create(rows, batch_size=2000)
    subnet.alloc_cursor = addressing.ip_key(picked[-1] + 1)
    subnet.save(update_fields=["alloc_cursor"])
    _count_reserved(pool, count)
    return rows


def reserve_ip_locked(*, pool: Pool, ip: str, now, idle: bool = True) -> Address:
    """Reserve this one address of the pool's subnet for the locked pool, as reserve_locked would
    a picked one (access and quota checked, a new MAC and PortID). Refused, nothing reserved, when
    it is not an address the subnet hands out (outside its usable range, the gateway, excluded) or
    is reserved already. For reconcile, which puts back an address a pod is seen to hold. Takes
    the subnet's lock."""
    subnet = lock_subnet(pool.subnet_id)
    _check_access_locked(subnet=subnet, pool=pool, count=1)
    value = int(addressing.parse_ip(ip))
    low, high = addressing.usable_bounds(subnet.network)
    blocked = subnet_space.blocked_ranges(subnet)
    if not low <= value <= high or blocked.count_within(value, value):
        raise ServiceError(
            Code.ADDRESS_CONFLICT,
            f"IP: {ip} is not handed out by subnet {subnet.subnet_id} (excluded); nothing reserved",
        )
    key = addressing.ip_key(value)
    if Address.objects.filter(subnet=subnet, ip_key=key).exists():
        raise ServiceError(Code.ADDRESS_CONFLICT, f"IP: {ip} is reserved already; nothing reserved")
    # Under the subnet's lock, as quarantining takes it: another host answers for this address.
    if QuarantinedAddress.objects.filter(subnet=subnet, ip_key=key).exists():
        raise ServiceError(
            Code.ADDRESS_CONFLICT, f"IP: {ip} is quarantined in subnet {subnet.subnet_id}; nothing reserved"
        )
    address = Address.objects.create(
        subnet=subnet,
        net_regional_id=subnet.net_regional_id,
        pool=pool,
        ip=subnet_space.ip_text(subnet, value),
        ip_key=key,
        mac=addressing.new_mac(),
        reserved_at=now,
        idle_since=now if idle else None,
    )
    _count_reserved(pool, 1)
    return address


def _check_access_locked(*, subnet: Subnet, pool: Pool, count: int) -> None:
    """Refuse growth of the pool by `count` unless its cluster may use the subnet, within its quota.

    Needs the subnet's lock: every reservation in the subnet takes it, so the cluster's reserved
    count read here cannot grow before this transaction ends (addresses going back can only
    lower it). An open subnet (no grant) costs no query."""
    if subnet.open_without_grants:
        return
    cluster_id = pool.k8s_cluster_id
    grant = SubnetGrant.objects.filter(subnet=subnet, cluster__cluster_id=cluster_id).only("quota").first()
    if grant is None:
        raise ServiceError(
            Code.FORBIDDEN,
            f"K8SClusterID: cluster {cluster_id!r} may not use subnet {subnet.subnet_id}; "
            "an operator must grant it (manage.py grant_subnet); nothing reserved",
        )
    if grant.quota is None or count == 0:
        return
    reserved = (
        Pool.objects.filter(subnet=subnet, k8s_cluster_id=cluster_id).aggregate(n=Sum("reserved_count"))["n"] or 0
    )
    if reserved + count > grant.quota:
        raise ServiceError(
            Code.SUBNET_EXHAUSTED,
            f"quota of cluster {cluster_id!r} in subnet {subnet.subnet_id} is {grant.quota} addresses; "
            f"{reserved} reserved, {count} more needed; nothing reserved",
        )


def return_idle_locked(pool: Pool, count: int) -> int:
    """Give back up to `count` idle addresses of the locked pool, the longest idle first.

    Binders take idle addresses without the pool's lock, so one picked here may be bound before it
    is deleted (the delete re-checks and skips it): pick again until `count` went back or none is
    idle. Nothing can become idle meanwhile (that needs the pool's lock), so this ends."""
    returned = 0
    while returned < count:
        ids = list(
            Address.objects.filter(pool=pool, idle_since__isnull=False)
            .order_by("idle_since", "id")
            .values_list("id", flat=True)[: count - returned]
        )
        if not ids:
            break
        deleted, _ = Address.objects.filter(pk__in=ids, idle_since__isnull=False).delete()
        _count_reserved(pool, -deleted)
        returned += deleted
    return returned


def return_address_locked(pool: Pool, address_pk: int) -> None:
    """Give one address of the locked pool back to its subnet (no lease may hold it any more)."""
    Address.objects.filter(pk=address_pk).delete()
    _count_reserved(pool, -1)


def quarantine_address_locked(
    *, pool: Pool, address: Address, conflict_mac: str, pod_id: str, actor: str, reason: str, now
) -> QuarantinedAddress:
    """Take one address out of the locked pool into quarantine in its subnet (no lease may hold
    it any more): deleting the reservation and recording the quarantine in one transaction, so
    that every reader sees the address either reserved or quarantined, never free."""
    Address.objects.filter(pk=address.pk).delete()
    _count_reserved(pool, -1)
    return QuarantinedAddress.objects.create(
        subnet_id=address.subnet_id,
        ip=address.ip,
        ip_key=address.ip_key,
        conflict_mac=conflict_mac,
        mac=address.mac,
        k8s_cluster_id=pool.k8s_cluster_id,
        namespace=pool.namespace,
        kind=pool.kind,
        name=pool.name,
        pod_id=pod_id,
        quarantined_at=now,
        actor=actor[:200],
        reason=reason[:200],
    )


def _count_reserved(pool: Pool, delta: int) -> None:
    Pool.objects.filter(pk=pool.pk).update(reserved_count=F("reserved_count") + delta)
    pool.reserved_count += delta


def set_target_locked(*, pool: Pool, target: int, now) -> Pool:
    """Make the locked, active pool hold `target` addresses: reserve the missing ones (all or
    none), give back idle ones beyond it. Bound ones beyond it go back when their pods let go."""
    pool.target = target
    Pool.objects.filter(pk=pool.pk).update(target=target, updated_at=now)
    if pool.reserved_count < target:
        reserve_locked(pool=pool, count=target - pool.reserved_count, now=now)
    elif pool.reserved_count > target:
        return_idle_locked(pool, pool.reserved_count - target)
    return pool


def release_locked(pool: Pool, now) -> int:
    """The locked, active pool stops being active. Its idle addresses go back to the subnet now,
    or after the release grace; bound ones when their pods let go. Returns how many went back."""
    Pool.objects.filter(pk=pool.pk).update(state=PoolState.RELEASED, released_at=now, updated_at=now)
    pool.state, pool.released_at = PoolState.RELEASED, now
    if settings.IPRESMGR_RELEASE_GRACE_SECONDS > 0:
        return 0
    return return_idle_locked(pool, pool.reserved_count)


def purge_expired_released(subnet: Subnet, now) -> int:
    """Return to the subnet the idle addresses of its released pools whose grace has run out.

    Locks those pools itself, skipping any another transaction holds, so it never waits and never
    deadlocks; it needs no other lock (addresses go back under their pool's lock alone)."""
    grace = settings.IPRESMGR_RELEASE_GRACE_SECONDS
    if grace <= 0:
        return 0  # with no grace, released pools hold no idle addresses
    # One statement, no DISTINCT (PostgreSQL refuses FOR UPDATE with DISTINCT), locking only pools.
    expired = Pool.objects.filter(
        subnet=subnet,
        state=PoolState.RELEASED,
        released_at__lt=now - timedelta(seconds=grace),
        pk__in=Address.objects.filter(idle_since__isnull=False).values("pool_id"),
    ).select_for_update(no_key=True, skip_locked=True)
    return sum(return_idle_locked(pool, pool.reserved_count) for pool in expired)


def reclaimable_released_pool(workload: Workload, subnet: Subnet, now) -> Pool | None:
    """The workload's pool released within the grace in this subnet, locked: a re-create gets its
    addresses back."""
    grace = settings.IPRESMGR_RELEASE_GRACE_SECONDS
    if grace <= 0:
        return None
    return (
        Pool.objects.filter(
            **workload.as_filter(),
            subnet=subnet,
            state=PoolState.RELEASED,
            released_at__gt=now - timedelta(seconds=grace),
        )
        .order_by("-released_at")
        .select_for_update(no_key=True)
        .first()
    )
