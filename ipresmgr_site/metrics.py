"""Prometheus metrics at /metrics.

Counters and histograms of /v1 calls are kept by prometheus-client. Under gunicorn with several
worker processes they must be summed over the workers: the image's gunicorn.conf.py sets
PROMETHEUS_MULTIPROC_DIR before any worker starts (each process then writes its values to files
there, and a scrape, whichever worker answers it, reads them all), empties it at start and marks
a worker dead when it exits. Without that variable (tests, the demo) the values live in the one
process.

The database figures (per subnet, per active pool) are gauges read from the database at each
scrape, by `database_figures()`: three queries whatever the number of pools."""

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


def database_figures() -> tuple[list[SubnetFigures], list[PoolFigures]]:
    """Every subnet's capacity, reserved and bound addresses; every active pool's target,
    reserved and bound addresses. One aggregate query each (and one for the subnets' exclusions,
    which capacity needs), whatever the number of pools."""
    from django.db.models import Count, Q

    from pools.models import Pool, Subnet
    from pools.subnet_space import capacity

    bound = Q(addresses__idle_since__isnull=True)  # an address in use has no place in the idle queue
    subnets = [
        SubnetFigures(s.net_regional_id, s.subnet_id, capacity(s), s.n_reserved, s.n_bound)
        for s in Subnet.objects.annotate(n_reserved=Count("addresses"), n_bound=Count("addresses", filter=bound))
        .prefetch_related("exclusions")
        .order_by("subnet_id")
    ]
    pools = [
        PoolFigures(*row)
        for row in Pool.objects.active()
        .annotate(n_bound=Count("addresses", filter=bound))
        .order_by()
        .values_list(
            "k8s_cluster_id", "namespace", "kind", "name", "subnet__subnet_id", "target", "reserved_count", "n_bound"
        )
    ]
    return subnets, pools


class DatabaseCollector:
    """Reads the gauges at scrape time. With the database down: ipresmgr_database_up 0, no gauges."""

    def collect(self):
        up = GaugeMetricFamily("ipresmgr_database_up", "1 when this scrape could read the database figures.")
        try:
            subnets, pools = database_figures()
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
                ("bound", "Addresses of the subnet bound to pods."),
            )
        }
        for s in subnets:
            labels = [s.net_regional_id, s.subnet_id]
            families["capacity"].add_metric(labels, s.capacity)
            families["reserved"].add_metric(labels, s.reserved)
            families["bound"].add_metric(labels, s.bound)
        yield from families.values()
        pool_labels = ["cluster", "namespace", "kind", "workload", "subnet_id"]
        pool_families = {
            name: GaugeMetricFamily(f"ipresmgr_pool_{name}", text, labels=pool_labels)
            for name, text in (
                ("target", "Target (replica count) of the active pool."),
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


class BuildInfoCollector:
    def collect(self):
        info = GaugeMetricFamily("ipresmgr_build_info", "Always 1; the version serving.", labels=["version"])
        info.add_metric([__version__], 1)
        yield info


class _InProcess:
    """The calls' values of this one process (no PROMETHEUS_MULTIPROC_DIR)."""

    def collect(self):
        return APP.collect()


def scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_InProcess())
    registry.register(BuildInfoCollector())
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


def metrics_page(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        response = HttpResponse("metrics need Authorization: Bearer <IPRESMGR_METRICS_TOKEN>\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="ipresmgr-metrics"'
        response["Content-Type"] = "text/plain; charset=utf-8"
        return response
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
