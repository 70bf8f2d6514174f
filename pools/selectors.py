"""Reads that more than one caller needs: what a caller may see, with the figures annotated so
that a page of rows costs a fixed number of queries."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from pools.domain import Actor
from pools.models import Address, AuditEvent, Pool, Subnet


def subnets_with_usage() -> QuerySet[Subnet]:
    """Every subnet, with Reserved and Bound counted and its exclusions fetched in one query.

    A cluster token sees every subnet too: it may create pools in any of them, and it learns a
    subnet's exhaustion from Code 12 anyway; no other cluster's workloads are shown."""
    return Subnet.objects.annotate(
        reserved=Count("addresses"),
        bound=Count("addresses", filter=Q(addresses__pod_id__isnull=False)),
    ).prefetch_related("exclusions")


def pools_visible_to(actor: Actor) -> QuerySet[Pool]:
    pools = Pool.objects.select_related("subnet").annotate(
        bound=Count("addresses", filter=Q(addresses__pod_id__isnull=False))
    )
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
