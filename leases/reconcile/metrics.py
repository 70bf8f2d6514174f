"""Prometheus gauges of the reconcile runs, read from the stored runs at scrape time.

For /metrics (ipresmgr_site/metrics.py, prometheus-client): register `ReconcileCollector()` in the
scrape registry. Settings name it by its dotted path (settings import no app code),
e.g. with django.utils.module_loading.import_string("leases.reconcile.metrics.ReconcileCollector").

Per cluster, from its latest successful run (one that read and compared the whole cluster, dry run
or not): the leaked bindings and pools it found, what it freed, what a failover lost (bindings,
pools) and what it restored, the address conflicts it found, and when it finished."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import DatabaseError
from django.db.models import Max

from leases.models import SUCCESSFUL_RUN_STATUSES, ReconcileRun

log = logging.getLogger("ipresmgr.metrics")


@dataclass(frozen=True)
class ReconcileFigures:
    """A cluster's figures. Those of its last successful run are None when it has had none."""

    cluster_id: str
    last_run_failed: bool  # its latest finished run, successful or not, ended in an error
    leaked_bindings: int | None = None
    bindings_freed: int | None = None
    orphaned_pools: int | None = None
    pools_released: int | None = None
    drifted_pools: int | None = None
    lost_bindings: int | None = None
    bindings_restored: int | None = None
    address_conflicts: int | None = None
    lost_pools: int | None = None
    last_success: float | None = None  # Unix time that run finished


GAUGES = (
    ("leaked_bindings", "ipresmgr_reconcile_leaked_bindings", "Leaked bindings found by the last successful run."),
    ("bindings_freed", "ipresmgr_reconcile_bindings_freed", "Leaked bindings freed by the last successful run."),
    ("orphaned_pools", "ipresmgr_reconcile_orphaned_pools", "Pools of deleted workloads found by the last run."),
    ("pools_released", "ipresmgr_reconcile_pools_released", "Pools of deleted workloads released by the last run."),
    ("drifted_pools", "ipresmgr_reconcile_drifted_pools", "Pools whose target differs from the replica count."),
    (
        "lost_bindings",
        "ipresmgr_reconcile_lost_bindings",
        "Bindings live pods hold that the database lost (a failover), found by the last successful run.",
    ),
    (
        "bindings_restored",
        "ipresmgr_reconcile_bindings_restored",
        "Lost bindings restored by the last successful run.",
    ),
    (
        "address_conflicts",
        "ipresmgr_reconcile_address_conflicts",
        "Addresses two live pods hold (or the database binds to another live pod), found by the last run.",
    ),
    (
        "lost_pools",
        "ipresmgr_reconcile_lost_pools",
        "Workloads whose live pods hold managed addresses and which have no active pool (last run).",
    ),
    (
        "last_success",
        "ipresmgr_reconcile_last_success_timestamp_seconds",
        "When the last successful run finished (Unix time).",
    ),
    ("last_run_failed", "ipresmgr_reconcile_last_run_failed", "1 when the cluster's latest run ended in an error."),
)


# The gauges that are a run's own counts (the others are derived).
RUN_COUNTS = tuple(name for name, _, _ in GAUGES if name not in ("last_success", "last_run_failed"))


def _latest_ids(runs) -> list[int]:
    return list(runs.values("k8s_cluster_id").annotate(last=Max("id")).values_list("last", flat=True))


def reconcile_figures() -> list[ReconcileFigures]:
    """One row per cluster with a finished run; three queries whatever the number of runs."""
    finished = _latest_ids(ReconcileRun.objects.exclude(status=ReconcileRun.Status.RUNNING))
    succeeded = _latest_ids(ReconcileRun.objects.filter(status__in=SUCCESSFUL_RUN_STATUSES))
    runs = {run.pk: run for run in ReconcileRun.objects.filter(pk__in=[*finished, *succeeded])}
    latest = {runs[pk].k8s_cluster_id: runs[pk] for pk in finished}
    success = {runs[pk].k8s_cluster_id: runs[pk] for pk in succeeded}
    figures = []
    for cluster_id in sorted(latest):
        run = success.get(cluster_id)
        counts = {}
        if run is not None:
            counts = {name: getattr(run, name) for name in RUN_COUNTS}
            counts["last_success"] = run.finished_at.timestamp()
        failed = latest[cluster_id].status == ReconcileRun.Status.ERROR
        figures.append(ReconcileFigures(cluster_id=cluster_id, last_run_failed=failed, **counts))
    return figures


class ReconcileCollector:
    """A prometheus-client collector: the gauges, labelled by cluster. With the database down it
    yields nothing (the site's own collector reports the database as down)."""

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        try:
            figures = reconcile_figures()
        except DatabaseError as exc:
            log.warning("metrics: reconcile figures unavailable: %s", str(exc).splitlines()[0] if str(exc) else exc)
            return
        for attribute, name, text in GAUGES:
            family = GaugeMetricFamily(name, text, labels=["cluster"])
            for row in figures:
                value = getattr(row, attribute)
                if value is not None:
                    family.add_metric([row.cluster_id], float(value))
            yield family
