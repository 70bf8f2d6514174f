"""Reads that more than one caller needs (the read API, the console, metrics): what a caller may
see, with the figures annotated so that a page of rows costs a fixed number of queries.

"Bound" here is an address in use (its `idle_since` is empty); which pod holds it is leases'."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from audit.models import AuditEvent
from core.choices import PoolState
from core.domain import Actor, Workload
from pools import subnet_space
from pools.models import Pool, QuarantinedAddress, Subnet, SubnetExclusion, SubnetGrant


@dataclass(frozen=True)
class SubnetUsage:
    capacity: int
    reserved: int
    bound: int
    quarantined: int = 0  # never free, in no pool

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.reserved - self.quarantined)

    @property
    def percent(self) -> int:
        """Reserved and quarantined share of the capacity, 0-100 (no capacity at all is 100)."""
        if self.capacity <= 0:
            return 100
        return min(100, round(100 * (self.reserved + self.quarantined) / self.capacity))


def subnets_with_usage(queryset: QuerySet[Subnet] | None = None) -> QuerySet[Subnet]:
    """Subnets annotated with `n_reserved`, `n_bound` and `n_quarantined`, exclusions prefetched
    (for usage())."""
    queryset = Subnet.objects.all() if queryset is None else queryset
    return queryset.annotate(
        n_reserved=Count("addresses", distinct=True),
        n_bound=Count("addresses", filter=Q(addresses__idle_since__isnull=True), distinct=True),
        n_quarantined=quarantined_count(OuterRef("pk")),
    ).prefetch_related(Prefetch("exclusions", queryset=SubnetExclusion.objects.order_by("id")))


def quarantined_count(subnet_pk) -> Coalesce:
    """How many addresses are quarantined in the subnet `subnet_pk` (an OuterRef): a subquery, not
    one more join beside the addresses'."""
    counted = (
        QuarantinedAddress.objects.filter(subnet=subnet_pk)
        .order_by()
        .values("subnet")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted), 0)


def subnets_visible_to(actor: Actor) -> QuerySet[Subnet]:
    """A cluster token sees the subnets its cluster may grow pools in (open ones, granted ones);
    the totals name no workload. Anyone else sees every subnet."""
    subnets = subnets_with_usage()
    if actor.cluster_id is not None:
        granted = SubnetGrant.objects.filter(subnet=OuterRef("pk"), cluster__cluster_id=actor.cluster_id)
        subnets = subnets.filter(Q(open_without_grants=True) | Q(Exists(granted)))
    return subnets


@dataclass(frozen=True)
class ClusterInSubnet:
    """One cluster's standing in one subnet: its grant (if any) and what its pools reserve there."""

    cluster_id: str
    granted: bool
    quota: int | None
    reserved: int


def attach_cluster_usage(subnets: list[Subnet], actor: Actor) -> list[Subnet]:
    """Set `subnet.clusters` on each subnet (a page: two queries in all): the granted clusters and
    those whose pools reserve addresses there. A cluster token gets its own entry only, always."""
    by_subnet: dict[int, dict[str, ClusterInSubnet]] = {subnet.pk: {} for subnet in subnets}
    grants = SubnetGrant.objects.filter(subnet_id__in=by_subnet).select_related("cluster")
    reserved = (
        Pool.objects.filter(subnet_id__in=by_subnet)
        .values("subnet_id", "k8s_cluster_id")
        .annotate(n=Sum("reserved_count"))
        .filter(n__gt=0)
        .order_by()
    )
    if actor.cluster_id is not None:
        grants = grants.filter(cluster__cluster_id=actor.cluster_id)
        reserved = reserved.filter(k8s_cluster_id=actor.cluster_id)
    counts = {(row["subnet_id"], row["k8s_cluster_id"]): row["n"] for row in reserved}
    for grant in grants:
        key = (grant.subnet_id, grant.cluster.cluster_id)
        by_subnet[grant.subnet_id][key[1]] = ClusterInSubnet(key[1], True, grant.quota, counts.pop(key, 0))
    for (subnet_pk, cluster_id), n in counts.items():
        by_subnet[subnet_pk][cluster_id] = ClusterInSubnet(cluster_id, False, None, n)
    for subnet in subnets:
        rows = by_subnet[subnet.pk]
        if actor.cluster_id is not None and actor.cluster_id not in rows:
            rows[actor.cluster_id] = ClusterInSubnet(actor.cluster_id, False, None, 0)
        subnet.clusters = [rows[cluster_id] for cluster_id in sorted(rows)]
    return subnets


def usage(subnet: Subnet) -> SubnetUsage:
    """The subnet's figures, computed once per row (cached on it)."""
    cached = subnet.__dict__.get("_usage")
    if cached is not None:
        return cached
    reserved = getattr(subnet, "n_reserved", None)
    bound = getattr(subnet, "n_bound", None)
    quarantined = getattr(subnet, "n_quarantined", None)
    if reserved is None:
        reserved = subnet.addresses.count()
        bound = subnet.addresses.filter(idle_since__isnull=True).count()
        quarantined = subnet.quarantined.count()
    figures = SubnetUsage(
        capacity=subnet_space.capacity(subnet), reserved=reserved, bound=bound, quarantined=quarantined or 0
    )
    subnet.__dict__["_usage"] = figures
    return figures


def pools_with_usage(queryset: QuerySet[Pool] | None = None) -> QuerySet[Pool]:
    """Pools annotated with `n_bound` (addresses in use by pods)."""
    queryset = Pool.objects.all() if queryset is None else queryset
    return queryset.annotate(n_bound=Count("addresses", filter=Q(addresses__idle_since__isnull=True)))


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


def active_pool(workload: Workload) -> Pool | None:
    """The workload's active pool, with its subnet, or None (a plain read: no lock)."""
    return Pool.objects.active().select_related("subnet").filter(**workload.as_filter()).first()


def pools_visible_to(actor: Actor) -> QuerySet[Pool]:
    pools = pools_with_usage(Pool.objects.select_related("subnet"))
    if actor.cluster_id is not None:
        pools = pools.filter(k8s_cluster_id=actor.cluster_id)
    return pools


def events_visible_to(actor: Actor) -> QuerySet[AuditEvent]:
    """A cluster token sees the events about workloads of its cluster (whoever called)."""
    events = AuditEvent.objects.all()
    if actor.cluster_id is not None:
        events = events.filter(k8s_cluster_id=actor.cluster_id)
    return events


def quarantined_addresses(
    *, subnet_id: str | None = None, cluster_id: str | None = None
) -> QuerySet[QuarantinedAddress]:
    """Quarantined addresses with their subnet, by subnet and address; those of one subnet, or
    taken from one cluster's pools, when asked."""
    quarantined = QuarantinedAddress.objects.select_related("subnet").order_by("subnet_id", "ip_key")
    if subnet_id is not None:
        quarantined = quarantined.filter(subnet__subnet_id=subnet_id)
    if cluster_id is not None:
        quarantined = quarantined.filter(k8s_cluster_id=cluster_id)
    return quarantined
