"""Prometheus metrics at /metrics.

Counters and histograms of /v1 calls are kept by prometheus-client. Under gunicorn with several
worker processes they must be summed over the workers: the image's gunicorn.conf.py sets
PROMETHEUS_MULTIPROC_DIR before any worker starts (each process then writes its values to files
there, and a scrape, whichever worker answers it, reads them all), empties it at start and marks
a worker dead when it exits. Without that variable (tests, the demo) the values live in the one
process.

The database figures (per subnet, the pools near full, the reconcile runs) are gauges read from the
database at each scrape, by `database_figures()`: a few queries whatever the number of pools. They
are the same whichever instance answers, so they have a path of their own: /metrics/instance is
this instance's calls (every pod is scraped), /metrics/database the database's figures (scraped
once, through the Service), /metrics both (one instance, the demo). Per-pool series are bounded:
by default only the pools with no idle address left (IPRESMGR_METRICS_POOLS), at most
IPRESMGR_METRICS_POOL_SERIES_MAX of them; ipresmgr_pools_active and ipresmgr_pools_full count all."""

from __future__ import annotations

import hmac
import logging
import os
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from ipresmgr_site import __version__

log = logging.getLogger("ipresmgr.metrics")

# The contract's calls, counted from the first scrape on (zero rather than absent: rate() works).
CONTRACT_ENDPOINTS = ("/v1/ippool/create", "/v1/ippool/release", "/v1/ippool/scale", "/v1/ip/require", "/v1/ip/release")
UNAVAILABLE_CODE = 50

APP = CollectorRegistry()
CALLS = Counter(
    "ipresmgr_v1_calls", "Calls to /v1 endpoints by endpoint and answer Code.", ["endpoint", "code"], registry=APP
)
DURATION = Histogram(
    "ipresmgr_v1_call_duration_seconds",
    "Time to answer a /v1 call, by endpoint.",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=APP,
)
UNAVAILABLE = Counter(
    "ipresmgr_v1_unavailable",
    "Calls answered Code 50 (database unavailable or busy; the caller retries).",
    ["endpoint"],
    registry=APP,
)
DB_ERRORS = Counter(
    "ipresmgr_db_errors",
    "Database errors during /v1 calls: failed statements by SQLSTATE (or exception class on SQLite), "
    "including those retried and never seen by the caller; 'connection' for a Code 50 without a failed "
    "statement (could not connect, or the connection broke).",
    ["error"],
    registry=APP,
)
DB_FAILOVERS = Counter(
    "ipresmgr_db_failovers",
    "New database connections that reached another server (system identifier) or timeline than "
    "this process saw before: a failover or a restore happened; run reconcile.",
    registry=APP,
)
for _endpoint in CONTRACT_ENDPOINTS:
    UNAVAILABLE.labels(_endpoint)


def observe_call(*, endpoint: str, code: int | None, seconds: float, db_errors: list[str]) -> None:
    CALLS.labels(endpoint, "none" if code is None else str(code)).inc()
    DURATION.labels(endpoint).observe(seconds)
    for error in db_errors:
        DB_ERRORS.labels(error).inc()
    if code == UNAVAILABLE_CODE:
        UNAVAILABLE.labels(endpoint).inc()
        if not db_errors:
            DB_ERRORS.labels("connection").inc()


# Database gauges --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubnetFigures:
    net_regional_id: str
    subnet_id: str
    capacity: int
    reserved: int
    bound: int
    quarantined: int = 0


@dataclass(frozen=True)
class PoolFigures:
    cluster: str
    namespace: str
    kind: int
    workload: str
    subnet_id: str
    target: int
    reserved: int
    bound: int


@dataclass(frozen=True)
class PoolCounts:
    active: int
    full: int  # active pools with a target and no idle address


def database_figures() -> tuple[list[SubnetFigures], list[PoolFigures]]:
    """Every subnet's capacity, reserved and bound addresses; the exported pools' target, reserved
    and bound addresses (`exported_pools`). A few aggregate queries whatever the number of pools,
    none of which reads every address: a subnet's reserved addresses are the sum of its pools'
    reserved_count (kept equal to their Address rows), its bound ones those less the idle ones,
    which the partial index of the idle queue counts; quarantined ones counted from their own table."""
    from django.db.models import Count, Sum

    from pools.models import Address, Pool, QuarantinedAddress, Subnet
    from pools.subnet_space import capacity

    reserved = dict(Pool.objects.order_by().values_list("subnet_id").annotate(Sum("reserved_count")))
    idle = dict(
        Address.objects.filter(idle_since__isnull=False).order_by().values_list("pool__subnet_id").annotate(Count("id"))
    )
    quarantined = dict(QuarantinedAddress.objects.order_by().values_list("subnet_id").annotate(Count("id")))
    subnets = [
        SubnetFigures(
            s.net_regional_id,
            s.subnet_id,
            capacity(s),
            reserved.get(s.pk, 0),
            reserved.get(s.pk, 0) - idle.get(s.pk, 0),
            quarantined.get(s.pk, 0),
        )
        for s in Subnet.objects.prefetch_related("exclusions").order_by("subnet_id")
    ]
    return subnets, exported_pools()


def _full_pool():
    """True for an active pool with a target and no idle address (the partial index of the idle
    queue answers it without counting the pool's addresses)."""
    from django.db.models import Exists, OuterRef, Q

    from pools.models import Address

    idle = Address.objects.filter(pool=OuterRef("pk"), idle_since__isnull=False)
    return Q(target__gt=0) & ~Exists(idle)


def exported_pools() -> list[PoolFigures]:
    """The pools that get series (settings.IPRESMGR_METRICS_POOLS), fullest first, at most
    IPRESMGR_METRICS_POOL_SERIES_MAX of them."""
    from django.db.models import Count, F, Q

    from pools.models import Pool

    selection, limit = settings.IPRESMGR_METRICS_POOLS, settings.IPRESMGR_METRICS_POOL_SERIES_MAX
    columns = ("k8s_cluster_id", "namespace", "kind", "name", "subnet__subnet_id", "target", "reserved_count")
    if selection == "none" or limit <= 0:
        return []
    if selection == "full":  # every address bound: bound == reserved
        rows = Pool.objects.active().filter(_full_pool()).order_by("k8s_cluster_id", "namespace", "kind", "name")
        return [PoolFigures(*row, row[-1]) for row in rows.values_list(*columns)[:limit]]
    bound = Q(addresses__idle_since__isnull=True)
    rows = (
        Pool.objects.active()
        .annotate(n_bound=Count("addresses", filter=bound))
        .order_by(F("reserved_count") - F("n_bound"), "k8s_cluster_id", "namespace", "kind", "name")
    )
    return [PoolFigures(*row) for row in rows.values_list(*columns, "n_bound")[:limit]]


def pool_counts() -> PoolCounts:
    from django.db.models import Count

    from pools.models import Pool

    counts = Pool.objects.active().aggregate(active=Count("pk"), full=Count("pk", filter=_full_pool()))
    return PoolCounts(active=counts["active"], full=counts["full"])


class DatabaseCollector:
    """Reads the gauges at scrape time. With the database down: ipresmgr_database_up 0, no gauges."""

    def collect(self):
        up = GaugeMetricFamily("ipresmgr_database_up", "1 when this scrape could read the database figures.")
        try:
            subnets, pools = database_figures()
            counts = pool_counts()
        except DatabaseError as exc:
            log.warning("metrics: database figures unavailable: %s", str(exc).splitlines()[0] if str(exc) else exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        subnet_labels = ["net_regional_id", "subnet_id"]
        families = {
            name: GaugeMetricFamily(f"ipresmgr_subnet_{name}", text, labels=subnet_labels)
            for name, text in (
                ("capacity", "Addresses of the subnet that may ever be handed out."),
                ("reserved", "Addresses of the subnet reserved by pools (active or released)."),
                ("quarantined", "Addresses of the subnet quarantined: in use on the wire by another host."),
                ("bound", "Addresses of the subnet bound to pods."),
            )
        }
        for s in subnets:
            labels = [s.net_regional_id, s.subnet_id]
            families["capacity"].add_metric(labels, s.capacity)
            families["reserved"].add_metric(labels, s.reserved)
            families["quarantined"].add_metric(labels, s.quarantined)
            families["bound"].add_metric(labels, s.bound)
        yield from families.values()
        pool_labels = ["cluster", "namespace", "kind", "workload", "subnet_id"]
        pool_families = {
            name: GaugeMetricFamily(f"ipresmgr_pool_{name}", text, labels=pool_labels)
            for name, text in (
                ("target", "Target (replica count) of the active pool (only pools IPRESMGR_METRICS_POOLS selects)."),
                ("reserved", "Addresses the active pool reserves."),
                ("bound", "Addresses of the active pool bound to pods."),
                ("idle", "Addresses of the active pool not bound to a pod."),
            )
        }
        for p in pools:
            labels = [p.cluster, p.namespace, str(p.kind), p.workload, p.subnet_id]
            pool_families["target"].add_metric(labels, p.target)
            pool_families["reserved"].add_metric(labels, p.reserved)
            pool_families["bound"].add_metric(labels, p.bound)
            pool_families["idle"].add_metric(labels, p.reserved - p.bound)
        yield from pool_families.values()
        for name, text, value in (
            ("active", "Active pools.", counts.active),
            (
                "full",
                "Active pools with a target and no idle address (the next pod takes a surge address).",
                counts.full,
            ),
        ):
            family = GaugeMetricFamily(f"ipresmgr_pools_{name}", text)
            family.add_metric([], value)
            yield family


class BuildInfoCollector:
    def collect(self):
        info = GaugeMetricFamily("ipresmgr_build_info", "Always 1; the version serving.", labels=["version"])
        info.add_metric([__version__], 1)
        yield info


class _InProcess:
    """The calls' values of this one process (no PROMETHEUS_MULTIPROC_DIR)."""

    def collect(self):
        return APP.collect()


INSTANCE, DATABASE = "instance", "database"
SCOPES = {"all": (INSTANCE, DATABASE), INSTANCE: (INSTANCE,), DATABASE: (DATABASE,)}


def scrape_registry(scope: str = "all") -> CollectorRegistry:
    """`instance`: this instance's processes (calls, durations, database errors, build); `database`:
    the database's figures, the same from any instance; `all`: both."""
    registry = CollectorRegistry(auto_describe=False)
    if INSTANCE in SCOPES[scope]:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            MultiProcessCollector(registry)
        else:
            registry.register(_InProcess())
        registry.register(BuildInfoCollector())
    if DATABASE in SCOPES[scope]:
        registry.register(DatabaseCollector())
        for path in settings.IPRESMGR_METRICS_COLLECTORS:  # the apps' own gauges, read at scrape time
            registry.register(import_string(path)())
    return registry


def _authorized(request: HttpRequest) -> bool:
    token = settings.IPRESMGR_METRICS_TOKEN
    if not token:
        return True
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def metrics_page(request: HttpRequest, scope: str = "all") -> HttpResponse:
    if not _authorized(request):
        response = HttpResponse("metrics need Authorization: Bearer <IPRESMGR_METRICS_TOKEN>\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="ipresmgr-metrics"'
        response["Content-Type"] = "text/plain; charset=utf-8"
        return response
    return HttpResponse(generate_latest(scrape_registry(scope)), content_type=CONTENT_TYPE_LATEST)
