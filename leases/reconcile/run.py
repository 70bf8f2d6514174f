"""One reconcile run: read the cluster, compare, (with --apply) change, and store the report.

Nothing is changed unless the whole cluster was read and the comparison raised no doubt; the run's
row is written first (status running), so a run that dies half way is seen as such."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import DatabaseError
from django.utils import timezone

from leases.models import ReconcileRun
from leases.reconcile.apply import apply_plan
from leases.reconcile.cluster import ClusterSnapshot, ReadError
from leases.reconcile.compare import plan_changes
from leases.reconcile.plan import LOST_BINDING, LOST_POOL, Finding, Plan
from pools.models import Cluster, Pool

# Exit codes (SPEC): nothing found, findings to act on in a dry run, an error, address conflicts
# (which win over findings: two pods on one address is the page).
EXIT_CLEAN, EXIT_LEAKS_FOUND, EXIT_ERROR, EXIT_CONFLICTS = 0, 1, 2, 3
# Findings kept with a stored run (the counts are always exact); the command prints them all.
STORED_FINDINGS = 100
Status = ReconcileRun.Status


@dataclass(frozen=True)
class Options:
    cluster_id: str
    apply: bool = False
    grace_seconds: int = 300
    fix_targets: bool = False
    recreate_pools: bool = False
    max_leaked_percent: int = 50
    keep_runs: int = 100


@dataclass
class Outcome:
    run: ReconcileRun
    plan: Plan | None  # None when the cluster could not be read

    @property
    def findings(self) -> list[Finding]:
        return self.plan.findings if self.plan else []


class UnknownCluster(Exception):
    """The cluster ID names no registered cluster and no pool: a typo, most likely. No run is stored."""


def start_run(options: Options) -> ReconcileRun:
    """The run's row, written before anything is read. A typo in the cluster ID is refused."""
    cluster_id = options.cluster_id
    registered = Cluster.objects.filter(cluster_id=cluster_id).exists()
    if not registered and not Pool.objects.filter(k8s_cluster_id=cluster_id).exists():
        raise UnknownCluster(f"cluster {cluster_id!r} is not registered and has no pools")
    return ReconcileRun.objects.create(k8s_cluster_id=cluster_id, started_at=timezone.now(), applied=options.apply)


def reconcile(options: Options, read: Callable[[], ClusterSnapshot]) -> Outcome:
    """Run once for the cluster; `read()` reads it (or raises ReadError)."""
    run = start_run(options)
    try:
        outcome = _run(options, read, run)
    except BaseException as exc:
        try:
            _finish(run, Status.ERROR, message=f"the run was interrupted: {type(exc).__name__}")
        except DatabaseError:
            pass  # the database is what failed; the original error says more
        raise
    prune_runs(options.cluster_id, keep=options.keep_runs)
    return outcome


def _run(options: Options, read, run: ReconcileRun) -> Outcome:
    started = time.monotonic()
    try:
        snapshot = read()
    except ReadError as exc:
        _finish(run, Status.ERROR, message=f"reading the cluster failed, so nothing was changed: {exc}")
        return Outcome(run, None)
    read_seconds = time.monotonic() - started
    plan = plan_changes(
        cluster_id=options.cluster_id,
        snapshot=snapshot,
        grace_seconds=options.grace_seconds,
        fix_targets=options.fix_targets,
        max_leaked_percent=options.max_leaked_percent,
        recreate_pools=options.recreate_pools,
    )
    plan.seconds = {"read": round(read_seconds, 3), "compare": round(time.monotonic() - started - read_seconds, 3)}
    return finish_run(run, plan, options)


def finish_run(run: ReconcileRun, plan: Plan, options: Options) -> Outcome:
    """Act on the plan as the options say and complete the run's row."""
    counts = {
        "leaked_bindings": len(plan.leaked),
        "orphaned_pools": len(plan.orphaned),
        "drifted_pools": len(plan.drifted),
        "lost_bindings": len(plan.lost),
        "address_conflicts": len(plan.conflicts),
        "lost_pools": len(plan.lost_pools),
    }
    # Conflicts are the page; lost pools left standing (no --recreate-pools) still need acting on.
    unrepaired = any(not (plan.recreate_pools and f.applicable) for f in plan.lost_pools)
    found = Status.CONFLICTS if plan.conflicts else (Status.LEAKS_FOUND if unrepaired else None)
    if plan.refusal:
        for finding in plan.findings:
            finding.action = "nothing changed (the run was refused)"
        _finish(run, Status.ERROR, message=plan.refusal, report=plan_report(plan), **counts)
        return Outcome(run, plan)
    if not plan.changes:
        _finish(run, found or Status.CLEAN, message=_summary(plan), report=plan_report(plan), **counts)
        return Outcome(run, plan)
    if not options.apply:
        message = _summary(plan) + "; dry run: nothing changed (--apply makes the changes)"
        _finish(run, found or Status.LEAKS_FOUND, message=message, report=plan_report(plan), **counts)
        return Outcome(run, plan)
    started = time.monotonic()
    applied = apply_plan(plan, run_pk=run.pk)
    plan.seconds["apply"] = round(time.monotonic() - started, 3)
    report = {**plan_report(plan), "changes_skipped": applied.skipped, "changes_failed": applied.failed}
    done = (
        f"bindings ended: {applied.bindings_freed}, pools released: {applied.pools_released}, "
        f"targets set: {applied.targets_fixed}, bindings restored: {applied.bindings_restored}, "
        f"pools re-created: {applied.pools_recreated}, skipped (each finding says why): {applied.skipped}, "
        f"failed: {applied.failed}"
    )
    # A lost binding or pool that could not be restored still risks a second owner: act on it.
    still_lost = any(f.what in (LOST_BINDING, LOST_POOL) and f.action.startswith("skipped") for f in plan.changes)
    if plan.conflicts:
        status = Status.CONFLICTS
    elif applied.failed:
        status = Status.ERROR
    elif found or still_lost:
        status = Status.LEAKS_FOUND
    else:
        status = Status.APPLIED
    _finish(
        run,
        status,
        message=f"{_summary(plan)}; {done}",
        report=report,
        bindings_freed=applied.bindings_freed,
        pools_released=applied.pools_released,
        targets_fixed=applied.targets_fixed,
        bindings_restored=applied.bindings_restored,
        pools_recreated=applied.pools_recreated,
        **counts,
    )
    return Outcome(run, plan)


def _summary(plan: Plan) -> str:
    drift = f"pools whose target differs from their workload's: {len(plan.drifted)}"
    if plan.drifted and not plan.fix_targets:
        drift += " (reported only)"
    lost_pools = f"lost pools: {len(plan.lost_pools)}"
    if plan.lost_pools and not plan.recreate_pools:
        lost_pools += " (reported only)"
    return (
        f"leaked bindings: {len(plan.leaked)}, pools of deleted workloads: {len(plan.orphaned)}, {drift}; "
        f"address conflicts: {len(plan.conflicts)}, lost bindings: {len(plan.lost)}, {lost_pools}; "
        f"left alone as younger than the grace: {plan.young_bindings} bindings, {plan.young_pools} pools"
    )


def finding_report(finding: Finding) -> dict:
    """A finding as the API and `--output json` show it."""
    return {
        "What": finding.what,
        "K8SPodID": finding.pod_id,
        "IP": finding.ip,
        "Pool": finding.pool,
        "SubnetID": finding.subnet_id,
        "Since": finding.since.isoformat().replace("+00:00", "Z"),
        "Why": finding.why,
        "Action": finding.action,
        # Every pod and address the finding names (a conflict's pods, a lost pool's), and the
        # target a lost pool would be re-created with.
        "K8SPodIDs": finding.pods or ([finding.pod_id] if finding.pod_id else []),
        "IPs": finding.ips or ([finding.ip] if finding.ip else []),
        "Target": finding.replicas if finding.what == LOST_POOL else None,
    }


def plan_report(plan: Plan) -> dict:
    snapshot = plan.snapshot
    findings = plan.findings
    return {
        "source": snapshot.source,
        "read_at": snapshot.read_at.isoformat(),
        "grace_seconds": plan.grace_seconds,
        "fix_targets": plan.fix_targets,
        "recreate_pools": plan.recreate_pools,
        "pod_addresses_checked": plan.pod_addresses_checked,
        "objects_listed": dict(snapshot.listed),
        "live_pods": snapshot.live_pods,
        "bindings_checked": plan.bindings_checked,
        "young_bindings": plan.young_bindings,
        "young_pools": plan.young_pools,
        "warnings": plan.warnings,
        "seconds": plan.seconds,
        "findings_total": len(findings),
        "findings": [finding_report(f) for f in findings[:STORED_FINDINGS]],
    }


def exit_code(status: str) -> int:
    return {
        Status.CLEAN: EXIT_CLEAN,
        Status.APPLIED: EXIT_CLEAN,
        Status.LEAKS_FOUND: EXIT_LEAKS_FOUND,
        Status.CONFLICTS: EXIT_CONFLICTS,
    }.get(status, EXIT_ERROR)


def _finish(run: ReconcileRun, status: str, *, message: str, report: dict | None = None, **counts) -> None:
    run.status = status
    run.exit_code = exit_code(status)
    run.finished_at = timezone.now()
    run.message = message
    if report is not None:
        run.report = report
    for name, value in counts.items():
        setattr(run, name, value)
    run.save()


def prune_runs(cluster_id: str, *, keep: int) -> None:
    """Keep the cluster's `keep` newest runs."""
    runs = ReconcileRun.objects.filter(k8s_cluster_id=cluster_id).order_by("-started_at", "-id")
    old = list(runs.values_list("pk", flat=True)[keep:])
    if old:
        ReconcileRun.objects.filter(pk__in=old).delete()
