"""A subnet's address space as the database holds it: what may be handed out, and what is free.

No locks are taken here; callers that reserve hold the subnet's lock (see pools.allocation)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from core import addressing
from pools.models import Address, QuarantinedAddress, Subnet


def blocked_ranges_of(gateway: str, exclusions: Iterable[tuple[str, str]]) -> addressing.BlockedRanges:
    """The gateway and the (first, last) exclusion pairs, as ranges never handed out."""
    gateway_value = int(addressing.parse_ip(gateway))
    pairs = [(gateway_value, gateway_value)]
    pairs += [(int(addressing.parse_ip(first)), int(addressing.parse_ip(last))) for first, last in exclusions]
    return addressing.BlockedRanges.build(pairs)


def blocked_ranges(subnet: Subnet) -> addressing.BlockedRanges:
    # .all(): uses a prefetch, when the caller made one
    return blocked_ranges_of(subnet.gateway, ((e.first_ip, e.last_ip) for e in subnet.exclusions.all()))


def capacity(subnet: Subnet, blocked: addressing.BlockedRanges | None = None) -> int:
    """How many addresses of the subnet may ever be handed out."""
    blocked = blocked or blocked_ranges(subnet)
    low, high = addressing.usable_bounds(subnet.network)
    return (high - low + 1) - blocked.count_within(low, high)


def reserved_outside(subnet: Subnet, network: addressing.IPNetwork, blocked: addressing.BlockedRanges) -> list[str]:
    """Reserved addresses of `subnet` that a new definition would no longer hand out (a few, sorted)."""
    low, high = addressing.usable_bounds(network)
    outside = Q(ip_key__lt=addressing.ip_key(low)) | Q(ip_key__gt=addressing.ip_key(high))
    for first, last in blocked.ranges:
        outside |= Q(ip_key__gte=addressing.ip_key(first), ip_key__lte=addressing.ip_key(last))
    return list(subnet.addresses.filter(outside).order_by("ip_key").values_list("ip", flat=True)[:5])


def find_free(subnet: Subnet, blocked: addressing.BlockedRanges, count: int) -> list[int]:
    """Up to `count` free addresses (neither reserved nor quarantined), next-fit from the subnet's
    cursor, wrapping once.

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
                window = {
                    "subnet": subnet,
                    "ip_key__gte": addressing.ip_key(start),
                    "ip_key__lte": addressing.ip_key(window_end),
                }
                # Reserved and quarantined keys in one query: neither may be handed out.
                taken = {
                    int(key, 16)
                    for key in Address.objects.filter(**window)
                    .order_by()
                    .values_list("ip_key", flat=True)
                    .union(
                        QuarantinedAddress.objects.filter(**window).order_by().values_list("ip_key", flat=True),
                        all=True,
                    )
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


def ip_text(subnet: Subnet, value: int) -> str:
    return str(subnet.network.network_address.__class__(value))
