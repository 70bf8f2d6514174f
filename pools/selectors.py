"""Reads the operators' console needs: subnet usage and pools that want attention."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, Prefetch, Q, QuerySet

from pools import addressing
from pools.choices import PoolState
from pools.models import Pool, Subnet, SubnetExclusion


@dataclass(frozen=True)
class SubnetUsage:
    capacity: int
    reserved: int
    bound: int

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.reserved)

    @property
    def percent(self) -> int:
        """Reserved share of the capacity, 0-100 (a full subnet with no capacity is 100)."""
        if self.capacity <= 0:
            return 100
        return min(100, round(100 * self.reserved / self.capacity))


def subnets_with_usage(queryset: QuerySet[Subnet] | None = None) -> QuerySet[Subnet]:
    """Subnets annotated with `n_reserved` and `n_bound`, exclusions prefetched (for usage())."""
    queryset = Subnet.objects.all() if queryset is None else queryset
    return queryset.annotate(
        n_reserved=Count("addresses", distinct=True),
        n_bound=Count("addresses", filter=Q(addresses__pod_id__isnull=False), distinct=True),
    ).prefetch_related(Prefetch("exclusions", queryset=SubnetExclusion.objects.order_by("id")))


def subnet_capacity_of(subnet: Subnet) -> int:
    """How many addresses may ever be handed out; reads prefetched exclusions when there are."""
    gateway = int(addressing.parse_ip(subnet.gateway))
    pairs = [(gateway, gateway)]
    for exclusion in subnet.exclusions.all():
        pairs.append((int(addressing.parse_ip(exclusion.first_ip)), int(addressing.parse_ip(exclusion.last_ip))))
    low, high = addressing.usable_bounds(subnet.network)
    return (high - low + 1) - addressing.BlockedRanges.build(pairs).count_within(low, high)


def usage(subnet: Subnet) -> SubnetUsage:
    reserved = getattr(subnet, "n_reserved", None)
    bound = getattr(subnet, "n_bound", None)
    if reserved is None:
        reserved = subnet.addresses.count()
        bound = subnet.addresses.filter(pod_id__isnull=False).count()
    return SubnetUsage(capacity=subnet_capacity_of(subnet), reserved=reserved, bound=bound)


def pools_with_usage(queryset: QuerySet[Pool] | None = None) -> QuerySet[Pool]:
    """Pools annotated with `n_bound` (addresses bound to pods)."""
    queryset = Pool.objects.all() if queryset is None else queryset
    return queryset.annotate(n_bound=Count("addresses", filter=Q(addresses__pod_id__isnull=False)))


def pools_needing_attention(limit: int = 50) -> list[Pool]:
    """Active pools that are full (every address bound: the next pod needs a surge address) or
    over their target (surge in use, or bound addresses beyond a shrunk target)."""
    pools = (
        pools_with_usage(Pool.objects.filter(state=PoolState.ACTIVE))
        .select_related("subnet")
        .filter(Q(reserved_count__gt=F("target")) | Q(n_bound__gte=F("reserved_count"), reserved_count__gt=0))
        .order_by("k8s_cluster_id", "namespace", "name")
    )
    return list(pools[:limit])
