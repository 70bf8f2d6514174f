"""Reads that more than one caller needs (the read API, the console): what a caller may see, with
the figures annotated so that a page of rows costs a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, Prefetch, Q, QuerySet

from pools.choices import PoolState
from pools.domain import Actor
from pools.models import Address, AuditEvent, Pool, Subnet, SubnetExclusion
from pools.services import subnet_capacity


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
    """Subnets annotated with `n_reserved` and `n_bound`, exclusions prefetched (for usage()).

    Every token sees every subnet: a cluster may create pools in any of them, and it learns a
    subnet's exhaustion from Code 12 anyway; no other cluster's workloads are shown."""
    queryset = Subnet.objects.all() if queryset is None else queryset
    return queryset.annotate(
        n_reserved=Count("addresses", distinct=True),
        n_bound=Count("addresses", filter=Q(addresses__pod_id__isnull=False), distinct=True),
    ).prefetch_related(Prefetch("exclusions", queryset=SubnetExclusion.objects.order_by("id")))


def usage(subnet: Subnet) -> SubnetUsage:
    reserved = getattr(subnet, "n_reserved", None)
    bound = getattr(subnet, "n_bound", None)
    if reserved is None:
        reserved = subnet.addresses.count()
        bound = subnet.addresses.filter(pod_id__isnull=False).count()
    return SubnetUsage(capacity=subnet_capacity(subnet), reserved=reserved, bound=bound)


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


def pools_visible_to(actor: Actor) -> QuerySet[Pool]:
    pools = pools_with_usage(Pool.objects.select_related("subnet"))
    if actor.cluster_id is not None:
        pools = pools.filter(k8s_cluster_id=actor.cluster_id)
    return pools


def addresses_visible_to(actor: Actor) -> QuerySet[Address]:
    addresses = Address.objects.select_related("pool", "subnet")
    if actor.cluster_id is not None:
        addresses = addresses.filter(pool__k8s_cluster_id=actor.cluster_id)
    return addresses


def events_visible_to(actor: Actor) -> QuerySet[AuditEvent]:
    """A cluster token sees the events about workloads of its cluster (whoever called)."""
    events = AuditEvent.objects.all()
    if actor.cluster_id is not None:
        events = events.filter(k8s_cluster_id=actor.cluster_id)
    return events
