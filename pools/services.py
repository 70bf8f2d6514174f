"""Writes for clusters, tokens, subnets and pools. Every door (API, admin, commands) comes here.

Locking: a service that changes a pool's addresses first locks that pool's row, then, if it needs
new addresses, its subnet's row (FOR NO KEY UPDATE, so that rows merely referring to the subnet,
like a new pool, need not wait for it). Always in that order, so mixed calls never deadlock. Addresses
that go back to the subnet are just deleted, under the pool lock alone.
"""

from __future__ import annotations

import math
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from pools import addressing
from pools.audit import audit_record
from pools.choices import Code, Kind, PoolState
from pools.domain import CallContext, Workload
from pools.errors import ServiceError
from pools.models import Address, ApiToken, Cluster, Pool, Subnet, SubnetExclusion

TOKEN_PREFIX = "ipr_"


# Clusters and tokens ---------------------------------------------------------------------------


def _issue_token(*, cluster: Cluster | None, description: str) -> tuple[ApiToken, str]:
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        key_hash=ApiToken.hash_key(key),
        prefix=key[:12],
        cluster=cluster,
        is_operator=cluster is None,
        description=description,
    )
    return token, key


@transaction.atomic
def cluster_create(*, ctx: CallContext, cluster_id: str, description: str = "") -> tuple[Cluster, str]:
    """Register a cluster and issue its first token. Returns the token's secret, shown once."""
    if Cluster.objects.filter(cluster_id=cluster_id).exists():
        raise ServiceError(Code.INVALID_REQUEST, f"K8SClusterID: cluster {cluster_id!r} is already registered")
    cluster = Cluster.objects.create(cluster_id=cluster_id, description=description)
    token, key = _issue_token(cluster=cluster, description="first token")
    audit_record(ctx, msg=f"cluster {cluster_id} registered; token {token.prefix}… issued")
    return cluster, key


@transaction.atomic
def token_create(*, ctx: CallContext, cluster: Cluster | None, description: str = "") -> tuple[ApiToken, str]:
    """Issue a token for `cluster`, or an operator token when `cluster` is None."""
    token, key = _issue_token(cluster=cluster, description=description)
    audit_record(ctx, msg=f"{token.scope} token {token.prefix}… issued")
    return token, key


@transaction.atomic
def token_revoke(*, ctx: CallContext, token: ApiToken) -> ApiToken:
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(ctx, msg=f"{token.scope} token {token.prefix}… revoked")
    return token


# Subnets ---------------------------------------------------------------------------------------


def _parse_exclusions(network: addressing.IPNetwork, exclusions: list[str]) -> list[tuple[str, str]]:
    parsed = []
    for text in exclusions:
        try:
            first, last = addressing.parse_range(text)
        except ValueError as exc:
            raise ServiceError(Code.INVALID_REQUEST, f"Exclude: {text!r} is not an address or range: {exc}") from None
        if first not in network or last not in network:
            raise ServiceError(Code.INVALID_REQUEST, f"Exclude: {text!r} is not inside {network}")
        parsed.append((str(first), str(last)))
    return parsed


def subnet_validate(
    *, net_regional_id: str, cidr: str, gateway: str, exclusions: list[str], subnet_pk: int | None = None
) -> tuple[addressing.IPNetwork, addressing.IPAddress, list[tuple[str, str]]]:
    """Check a subnet definition; returns the parsed network, gateway and exclusions."""
    try:
        network = addressing.parse_network(cidr)
    except ValueError as exc:
        raise ServiceError(Code.INVALID_REQUEST, f"CIDR: {cidr!r} is not a network: {exc}") from None
    try:
        gateway_ip = addressing.parse_ip(gateway)
    except ValueError:
        raise ServiceError(Code.INVALID_REQUEST, f"Gateway: {gateway!r} is not an IP address") from None
    low, high = addressing.usable_bounds(network)
    if gateway_ip.version != network.version or not low <= int(gateway_ip) <= high:
        raise ServiceError(Code.INVALID_REQUEST, f"Gateway: {gateway_ip} is not a usable address of {network}")
    others = Subnet.objects.filter(net_regional_id=net_regional_id).exclude(pk=subnet_pk)
    for other in others:
        if other.network.version == network.version and other.network.overlaps(network):
            raise ServiceError(
                Code.INVALID_REQUEST,
                f"CIDR: {network} overlaps subnet {other.subnet_id} ({other.cidr}) in NetRegionalID {net_regional_id}",
            )
    return network, gateway_ip, _parse_exclusions(network, exclusions)


@transaction.atomic
def subnet_create(
    *,
    ctx: CallContext,
    net_regional_id: str,
    subnet_id: str,
    cidr: str,
    gateway: str,
    exclusions: list[str] | None = None,
) -> tuple[Subnet, bool]:
    """Register a subnet. Registering the same definition again is a harmless no-op.

    Returns (subnet, created)."""
    exclusions = exclusions or []
    network, gateway_ip, ranges = subnet_validate(
        net_regional_id=net_regional_id,
        cidr=cidr,
        gateway=gateway,
        exclusions=exclusions,
        subnet_pk=Subnet.objects.filter(subnet_id=subnet_id).values_list("pk", flat=True).first(),
    )
    existing = Subnet.objects.filter(subnet_id=subnet_id).first()
    if existing is not None:
        same = (
            existing.net_regional_id == net_regional_id
            and existing.network == network
            and addressing.parse_ip(existing.gateway) == gateway_ip
            and sorted(existing.exclusions.values_list("first_ip", "last_ip")) == sorted(ranges)
        )
        if not same:
            raise ServiceError(
                Code.INVALID_REQUEST,
                f"SubnetID: {subnet_id!r} is already registered with another definition",
                http_status=409,
            )
        return existing, False
    subnet = Subnet.objects.create(
        net_regional_id=net_regional_id,
        subnet_id=subnet_id,
        cidr=str(network),
        gateway=str(gateway_ip),
        ip_version=network.version,
    )
    SubnetExclusion.objects.bulk_create(SubnetExclusion(subnet=subnet, first_ip=a, last_ip=b) for a, b in ranges)
    audit_record(ctx, subnet_id=subnet_id, msg=f"subnet {subnet_id} {network} gateway {gateway_ip} registered")
    return subnet, True


def _blocked(gateway: str, exclusions) -> addressing.BlockedRanges:
    """The gateway and the (first, last) exclusion pairs, as ranges never handed out."""
    gateway_value = int(addressing.parse_ip(gateway))
    pairs = [(gateway_value, gateway_value)]
    pairs += [(int(addressing.parse_ip(first)), int(addressing.parse_ip(last))) for first, last in exclusions]
    return addressing.BlockedRanges.build(pairs)


def blocked_ranges(subnet: Subnet) -> addressing.BlockedRanges:
    # .all(): uses a prefetch, when the caller made one
    return _blocked(subnet.gateway, ((e.first_ip, e.last_ip) for e in subnet.exclusions.all()))


def subnet_capacity(subnet: Subnet, blocked: addressing.BlockedRanges | None = None) -> int:
    """How many addresses of the subnet may ever be handed out."""
    blocked = blocked or blocked_ranges(subnet)
    low, high = addressing.usable_bounds(subnet.network)
    return (high - low + 1) - blocked.count_within(low, high)


def _find_free(subnet: Subnet, blocked: addressing.BlockedRanges, count: int) -> list[int]:
    """Up to `count` free addresses, next-fit from the subnet's cursor, wrapping once.

    Reads only the reserved keys of the windows it looks at, so a /64 costs what a /24 does."""
    low, high = addressing.usable_bounds(subnet.network)
    cursor = int(subnet.alloc_cursor, 16) if subnet.alloc_cursor else low
    if not low <= cursor <= high:
        cursor = low
    picked: list[int] = []
    segments = [(cursor, high)] + ([(low, cursor - 1)] if cursor > low else [])
    for seg_low, seg_high in segments:
        for run_low, run_high in blocked.free_runs(seg_low, seg_high):
            start = run_low
            while start <= run_high and len(picked) < count:
                window_end = min(run_high, start + max(2 * (count - len(picked)), 256) - 1)
                taken = {
                    int(key, 16)
                    for key in Address.objects.filter(
                        subnet=subnet,
                        ip_key__gte=addressing.ip_key(start),
                        ip_key__lte=addressing.ip_key(window_end),
                    ).values_list("ip_key", flat=True)
                }
                for value in range(start, window_end + 1):
                    if value not in taken:
                        picked.append(value)
                        if len(picked) == count:
                            break
                start = window_end + 1
            if len(picked) == count:
                return picked
    return picked


def _purge_expired_released(subnet: Subnet, now) -> int:
    """Return to the subnet the idle addresses of released pools whose grace has run out.

    Skips pools another transaction holds, so it never waits and never deadlocks."""
    grace = settings.IPRESMGR_RELEASE_GRACE_SECONDS
    if grace <= 0:
        return 0  # with no grace, released pools hold no idle addresses
    # One statement, no DISTINCT (PostgreSQL refuses FOR UPDATE with DISTINCT), locking only pools.
    expired = Pool.objects.filter(
        subnet=subnet,
        state=PoolState.RELEASED,
        released_at__lt=now - timedelta(seconds=grace),
        pk__in=Address.objects.filter(pod_id__isnull=True).values("pool_id"),
    ).select_for_update(skip_locked=True)
    purged = 0
    for pool in expired:
        purged += _return_idle(pool, pool.reserved_count)
    return purged


def reserve_addresses(
    *, pool: Pool, count: int, now, bind_pod: str | None = None, resource_id: str = ""
) -> list[Address]:
    """Reserve `count` new addresses from the pool's subnet, all or none.

    The caller holds the pool's lock; this takes the subnet's. With `bind_pod`, the (single) new
    address is bound to that pod at once."""
    if count <= 0:
        return []
    subnet = Subnet.objects.select_for_update(no_key=True).get(pk=pool.subnet_id)
    max_batch = settings.IPRESMGR_MAX_RESERVE_PER_CALL
    if count > max_batch:
        raise ServiceError(
            Code.SUBNET_EXHAUSTED,
            f"{count} addresses asked for at once; this server reserves at most {max_batch} per call",
        )
    _purge_expired_released(subnet, now)
    blocked = blocked_ranges(subnet)
    picked = _find_free(subnet, blocked, count) if count <= subnet_capacity(subnet, blocked) else []
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
            ip=_ip_text(subnet, value),
            ip_key=addressing.ip_key(value),
            mac=addressing.new_mac(),
            reserved_at=now,
            pod_id=bind_pod,
            k8s_resource_id=resource_id if bind_pod else "",
            bound_at=now if bind_pod else None,
            idle_since=None if bind_pod else now,
        )
        for value in picked
    ]
    Address.objects.bulk_create(rows, batch_size=2000)
    subnet.alloc_cursor = addressing.ip_key(picked[-1] + 1)
    subnet.save(update_fields=["alloc_cursor"])
    Pool.objects.filter(pk=pool.pk).update(reserved_count=F("reserved_count") + count)
    pool.reserved_count += count
    return rows


def _ip_text(subnet: Subnet, value: int) -> str:
    return str(subnet.network.network_address.__class__(value))


def _return_idle(pool: Pool, count: int) -> int:
    """Give back up to `count` idle addresses of a locked pool, the longest idle first."""
    if count <= 0:
        return 0
    ids = list(
        Address.objects.filter(pool=pool, pod_id__isnull=True)
        .order_by("idle_since", "id")
        .values_list("id", flat=True)[:count]
    )
    if not ids:
        return 0
    deleted, _ = Address.objects.filter(pk__in=ids, pod_id__isnull=True).delete()
    Pool.objects.filter(pk=pool.pk).update(reserved_count=F("reserved_count") - deleted)
    pool.reserved_count -= deleted
    return deleted


def address_return(*, pool: Pool, address: Address) -> None:
    """Give one address of a locked pool back to its subnet."""
    Address.objects.filter(pk=address.pk).delete()
    Pool.objects.filter(pk=pool.pk).update(reserved_count=F("reserved_count") - 1)
    pool.reserved_count -= 1


def surge_allowance(pool: Pool) -> int:
    """How far above its target a pool may grow when a pod finds no idle address."""
    if pool.kind == Kind.STATEFULSET:
        return 0  # rolls one pod at a time
    return max(1, math.ceil(pool.target * settings.IPRESMGR_SURGE_PERCENT / 100))


def grace_expired(pool: Pool, now) -> bool:
    grace = settings.IPRESMGR_RELEASE_GRACE_SECONDS
    return grace <= 0 or pool.released_at is None or pool.released_at <= now - timedelta(seconds=grace)


# Pools -----------------------------------------------------------------------------------------


def _lock_active_pool(workload: Workload) -> Pool | None:
    return Pool.objects.active().filter(**workload.as_filter()).select_for_update().first()


def pool_set_target(*, pool: Pool, target: int, now) -> Pool:
    """Make a locked, active pool hold `target` addresses: reserve the missing ones (all or
    none), give back idle ones beyond it. Bound ones beyond it go back when their pods let go."""
    pool.target = target
    Pool.objects.filter(pk=pool.pk).update(target=target, updated_at=now)
    if pool.reserved_count < target:
        reserve_addresses(pool=pool, count=target - pool.reserved_count, now=now)
    elif pool.reserved_count > target:
        _return_idle(pool, pool.reserved_count - target)
    return pool


def _reclaimable_released_pool(workload: Workload, subnet: Subnet, now) -> Pool | None:
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
        .select_for_update()
        .first()
    )


@transaction.atomic
def pool_create(
    *,
    ctx: CallContext,
    workload: Workload,
    replicas: int,
    net_regional_id: str,
    subnet_id: str,
    gateway: str,
) -> Pool:
    now = timezone.now()
    subnet = Subnet.objects.filter(subnet_id=subnet_id, net_regional_id=net_regional_id).first()
    if subnet is None:
        raise ServiceError(
            Code.SUBNET_NOT_FOUND, f"SubnetID: {subnet_id!r} is not registered under NetRegionalID {net_regional_id!r}"
        )
    if addressing.parse_ip(gateway) != addressing.parse_ip(subnet.gateway):
        raise ServiceError(
            Code.SUBNET_MISMATCH,
            f"SubnetGatewayAddr: {gateway} differs from the gateway {subnet.gateway} registered for {subnet_id}",
        )
    pool = _lock_active_pool(workload)
    if pool is not None:
        if pool.subnet_id != subnet.pk:
            raise ServiceError(
                Code.POOL_CONFLICT,
                f"workload {workload} already has an active pool in subnet {pool.subnet.subnet_id}",
            )
        msg = f"pool exists; target {pool.target} -> {replicas}"
    else:
        pool = _reclaimable_released_pool(workload, subnet, now)
        if pool is not None:
            Pool.objects.filter(pk=pool.pk).update(state=PoolState.ACTIVE, released_at=None, updated_at=now)
            pool.state, pool.released_at = PoolState.ACTIVE, None
            msg = f"pool re-created within the release grace; {pool.reserved_count} addresses kept"
        else:
            pool = Pool.objects.create(**workload.as_filter(), subnet=subnet, target=replicas)
            msg = "pool created"
    pool_set_target(pool=pool, target=replicas, now=now)
    audit_record(ctx, workload=workload, subnet_id=subnet_id, msg=msg, at=now, detail={"target": replicas})
    return pool


@transaction.atomic
def pool_scale(*, ctx: CallContext, workload: Workload, new_target: int, old_target: int | None = None) -> Pool:
    now = timezone.now()
    pool = _lock_active_pool(workload)
    if pool is None:
        raise ServiceError(Code.POOL_NOT_FOUND, f"workload {workload} has no active pool")
    return _retarget_audited(ctx=ctx, pool=pool, target=new_target, now=now, caller_old_replicas=old_target)


def _retarget_audited(*, ctx: CallContext, pool: Pool, target: int, now, **detail) -> Pool:
    """Set a locked, active pool's target and audit it (ScaleIPPool and the console's resize)."""
    previous = pool.target
    pool_set_target(pool=pool, target=target, now=now)
    audit_record(
        ctx,
        workload=workload_of(pool),
        subnet_id=pool.subnet.subnet_id,
        msg=f"target {previous} -> {target}; {pool.reserved_count} reserved",
        at=now,
        detail={"previous_target": previous, "new_target": target, **detail},
    )
    return pool


@transaction.atomic
def pool_release(*, ctx: CallContext, workload: Workload) -> Pool | None:
    """Stop a workload's pool. Idle addresses go back now (or after the grace); bound ones when
    their pods release them. An unknown workload is nothing to do."""
    now = timezone.now()
    pool = _lock_active_pool(workload)
    if pool is None:
        audit_record(ctx, workload=workload, msg="no active pool; nothing to do", at=now)
        return None
    Pool.objects.filter(pk=pool.pk).update(state=PoolState.RELEASED, released_at=now, updated_at=now)
    pool.state, pool.released_at = PoolState.RELEASED, now
    returned = 0
    if settings.IPRESMGR_RELEASE_GRACE_SECONDS <= 0:
        returned = _return_idle(pool, pool.reserved_count)
    audit_record(
        ctx,
        workload=workload,
        subnet_id=pool.subnet.subnet_id,
        msg=f"pool released; {returned} idle addresses returned, {pool.reserved_count} kept",
        at=now,
    )
    return pool


@transaction.atomic
def released_pools_purge(*, ctx: CallContext) -> int:
    """Return the idle addresses of every released pool whose grace has run out."""
    now = timezone.now()
    purged = sum(_purge_expired_released(subnet, now) for subnet in Subnet.objects.all())
    if purged:
        audit_record(ctx, msg=f"{purged} idle addresses of released pools returned", at=now)
    return purged


# The operators' console ------------------------------------------------------------------------
# Admin changes take the same locks in the same order as the contract calls: the pool row first,
# then the subnet row. Each writes one audit event naming the admin user (ctx.actor).


def _reserved_outside(subnet: Subnet, network: addressing.IPNetwork, blocked: addressing.BlockedRanges) -> list[str]:
    """Reserved addresses of `subnet` a new definition would no longer hand out (a few, sorted)."""
    low, high = addressing.usable_bounds(network)
    outside = Q(ip_key__lt=addressing.ip_key(low)) | Q(ip_key__gt=addressing.ip_key(high))
    for first, last in blocked.ranges:
        outside |= Q(ip_key__gte=addressing.ip_key(first), ip_key__lte=addressing.ip_key(last))
    return list(subnet.addresses.filter(outside).order_by("ip_key").values_list("ip", flat=True)[:5])


def subnet_check_update(*, subnet: Subnet, cidr: str, gateway: str, exclusions: list[str]) -> list[tuple[str, str]]:
    """Check a changed definition of a registered subnet; returns the parsed exclusions.

    Refuses what subnet_validate refuses, and any change (CIDR, gateway, exclusions) that would
    strand an address a pool has reserved: it must first go back to the subnet."""
    network, gateway_ip, ranges = subnet_validate(
        net_regional_id=subnet.net_regional_id, cidr=cidr, gateway=gateway, exclusions=exclusions, subnet_pk=subnet.pk
    )
    stranded = _reserved_outside(subnet, network, _blocked(str(gateway_ip), ranges))
    if stranded:
        raise ServiceError(
            Code.INVALID_REQUEST,
            f"{network} gateway {gateway_ip} with these exclusions would strand addresses pools have reserved "
            f"({', '.join(stranded)}); release them first",
        )
    return ranges


@transaction.atomic
def subnet_update(*, ctx: CallContext, subnet: Subnet, cidr: str, gateway: str, exclusions: list[str]) -> Subnet:
    """Change a subnet's CIDR, gateway and exclusions (its SubnetID and NetRegionalID stay).

    Takes the subnet row lock, which reservations take too, so no address can be reserved
    between the check and the change. Exclusions that stay keep their reason."""
    subnet = Subnet.objects.select_for_update(no_key=True).get(pk=subnet.pk)
    ranges = subnet_check_update(subnet=subnet, cidr=cidr, gateway=gateway, exclusions=exclusions)
    network = addressing.parse_network(cidr)
    old_ranges = sorted(subnet.exclusions.values_list("first_ip", "last_ip"))
    before = f"{subnet.cidr} gateway {subnet.gateway} exclusions {old_ranges}"
    same = (network, addressing.parse_ip(gateway), sorted(ranges)) == (
        subnet.network,
        addressing.parse_ip(subnet.gateway),
        old_ranges,
    )
    if same:
        return subnet  # nothing to change, nothing to audit
    reasons = {(e.first_ip, e.last_ip): e.reason for e in subnet.exclusions.all()}
    subnet.cidr, subnet.gateway, subnet.ip_version = str(network), str(addressing.parse_ip(gateway)), network.version
    subnet.save(update_fields=["cidr", "gateway", "ip_version"])
    subnet.__dict__.pop("network", None)
    subnet.exclusions.all().delete()
    SubnetExclusion.objects.bulk_create(
        SubnetExclusion(subnet=subnet, first_ip=a, last_ip=b, reason=reasons.get((a, b), "")) for a, b in ranges
    )
    after = f"{subnet.cidr} gateway {subnet.gateway} exclusions {sorted(ranges)}"
    audit_record(
        ctx,
        subnet_id=subnet.subnet_id,
        msg=f"subnet {subnet.subnet_id} changed",
        detail={"before": before, "after": after},
    )
    return subnet


def workload_of(pool: Pool) -> Workload:
    return Workload(cluster_id=pool.k8s_cluster_id, namespace=pool.namespace, kind=pool.kind, name=pool.name)


def lock_pool(pool_pk: int) -> Pool:
    pool = Pool.objects.select_related("subnet").select_for_update(of=("self",)).filter(pk=pool_pk).first()
    if pool is None:
        raise ServiceError(Code.POOL_NOT_FOUND, "the pool no longer exists")
    return pool


@transaction.atomic
def pool_resize(*, ctx: CallContext, pool: Pool, target: int) -> Pool:
    """Set an active pool's target from the console: as a ScaleIPPool would, for this very pool."""
    now = timezone.now()
    pool = lock_pool(pool.pk)
    if not pool.is_active:
        raise ServiceError(Code.POOL_NOT_FOUND, f"pool {pool} is released; only an active pool can be resized")
    if target < 0:
        raise ServiceError(Code.INVALID_REQUEST, "target must not be negative")
    return _retarget_audited(ctx=ctx, pool=pool, target=target, now=now)


@transaction.atomic
def pool_release_one(*, ctx: CallContext, pool: Pool) -> Pool:
    """Release this active pool from the console, as a ReleaseIPPool of its workload would."""
    locked = lock_pool(pool.pk)
    if not locked.is_active:
        raise ServiceError(Code.POOL_NOT_FOUND, f"pool {locked} is already released")
    # pool_release locks the workload's active pool, which is this row (one active per workload).
    return pool_release(ctx=ctx, workload=workload_of(locked))


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


def _lock_idle_address(address_pk: int) -> tuple[Pool, Address]:
    """lock_address, refusing an address that is bound: the console frees bindings explicitly."""
    pool, address = lock_address(address_pk)
    if address.is_bound:
        raise ServiceError(
            Code.ADDRESS_CONFLICT, f"IP: {address.ip} is bound to pod {address.pod_id}; force-release it first"
        )
    return pool, address


@transaction.atomic
def address_hold(*, ctx: CallContext, address: Address, reason: str = "") -> SubnetExclusion:
    """Hold an idle address back for good: exclude it from its subnet and take it out of its pool.

    A bound address is refused: force-release it first. The pool is one address short of its
    target afterwards; the next scale, create or require reserves another one."""
    now = timezone.now()
    pool, address = _lock_idle_address(address.pk)
    subnet = Subnet.objects.select_for_update(no_key=True).get(pk=pool.subnet_id)
    label = f"held by {ctx.actor.label}" + (f": {reason}" if reason else "")
    exclusion = SubnetExclusion.objects.create(
        subnet=subnet, first_ip=address.ip, last_ip=address.ip, reason=label[:200]
    )
    address_return(pool=pool, address=address)
    audit_record(
        ctx,
        workload=workload_of(pool),
        ip=address.ip,
        subnet_id=subnet.subnet_id,
        msg=f"{address.ip} held back (excluded from {subnet.subnet_id}); {label}",
        at=now,
    )
    return exclusion


@transaction.atomic
def address_return_idle(*, ctx: CallContext, address: Address) -> None:
    """Give one idle address of a pool back to its subnet. A bound address is refused."""
    now = timezone.now()
    pool, address = _lock_idle_address(address.pk)
    address_return(pool=pool, address=address)
    audit_record(
        ctx,
        workload=workload_of(pool),
        ip=address.ip,
        subnet_id=pool.subnet.subnet_id,
        msg=f"idle {address.ip} returned to {pool.subnet.subnet_id}; "
        f"pool holds {pool.reserved_count} (target {pool.target})",
        at=now,
    )
