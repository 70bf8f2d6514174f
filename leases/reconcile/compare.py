"""Comparing a cluster's snapshot with what the database says it holds: which bindings and pools
have leaked, and (after a database failover that lost commits) which bindings and pools the
database lost and which addresses two pods hold. Reads only; leases/reconcile/apply.py makes the
changes.

Bindings are streamed in key order, a chunk at a time, and checked against the set of live pod
UIDs; only the leaked ones are kept. Nothing younger than the grace is a finding: a pod or a
workload may not be visible yet (the webhook creates a pool before its workload exists)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from core.choices import Kind
from core.domain import Workload
from leases.models import Lease
from leases.reconcile.cluster import ClusterSnapshot, WorkloadKey, replicas_field, workload_text
from leases.reconcile.lost_bindings import (
    find_lost_bindings,
)
from leases.reconcile.plan import (
    ADDRESS_CONFLICT,
    ADDRESS_FREE,
    ADDRESS_LEAKED,
    LEAKED_BINDING,
    LOST_BINDING,
    LOST_POOL,
    ORPHANED_POOL,
    TARGET_DRIFT,
    Finding,
    Plan,
    chunked_dict,
    keyset,
)
from pools.models import Address, Pool


def plan_changes(
    *,
    cluster_id: str,
    snapshot: ClusterSnapshot,
    grace_seconds: int,
    fix_targets: bool = False,
    max_leaked_percent: int = 50,
    recreate_pools: bool = False,
) -> Plan:
    plan = Plan(
        cluster_id=cluster_id,
        snapshot=snapshot,
        grace_seconds=grace_seconds,
        fix_targets=fix_targets,
        recreate_pools=recreate_pools,
    )
    bound = Lease.objects.filter(pool__k8s_cluster_id=cluster_id)
    if snapshot.live_pods == 0 and bound.exists():
        plan.refusal = (
            f"the cluster listed no live pods ({sum(snapshot.listed.values())} objects read) while "
            f"{bound.count()} addresses of cluster {cluster_id} are bound: a wrong kubeconfig, context or "
            "file? Nothing changed"
        )
        return plan
    _find_leaked_bindings(plan)
    _find_pool_leaks(plan)
    find_lost_bindings(plan)
    old_bindings = plan.bindings_checked - plan.young_bindings
    if plan.leaked and len(plan.leaked) * 100 > max_leaked_percent * old_bindings:
        plan.refusal = (
            f"{len(plan.leaked)} of the {old_bindings} bindings older than the grace look leaked, more than "
            f"{max_leaked_percent}%: is this the right cluster? Nothing changed (after a real mass outage, "
            "run again with a higher --max-leaked-percent)"
        )
    for finding in plan.findings:
        finding.action = _intended_action(finding, fix_targets, recreate_pools)
    return plan


def _intended_action(finding: Finding, fix_targets: bool, recreate_pools: bool = False) -> str:
    if finding.what == ADDRESS_CONFLICT:
        return "reported only: never changed automatically"
    if finding.what == LOST_BINDING:
        if finding.address_state == ADDRESS_FREE:
            return "would reserve the address into the pool and bind it to the pod"
        if finding.address_state == ADDRESS_LEAKED:
            return "would bind it to the pod once the leaked binding is ended"
        return "would bind the address to the pod"
    if finding.what == LOST_POOL:
        if not finding.applicable:
            return "reported only (see why)"
        if recreate_pools:
            return f"would re-create the pool (target {finding.replicas}) and bind its pods' addresses"
        return "reported only (--recreate-pools re-creates it)"
    if finding.what == LEAKED_BINDING:
        return "would end the binding"
    if finding.what == ORPHANED_POOL:
        return "would release the pool"
    if fix_targets:
        return f"would set the target to {finding.replicas}"
    return "reported only (--fix-targets sets it)"


def _find_leaked_bindings(plan: Plan) -> None:
    snapshot, cutoff = plan.snapshot, plan.cutoff
    live, finished = snapshot.live_pod_uids, snapshot.finished_pods
    leaked: list[tuple[int, str, datetime, int]] = []
    bindings = Lease.objects.filter(pool__k8s_cluster_id=plan.cluster_id)
    for address_pk, pod_id, bound_at, pool_pk in keyset(bindings, ("pod_id", "bound_at", "pool_id")):
        plan.bindings_checked += 1
        if bound_at >= cutoff:
            plan.young_bindings += 1
        elif pod_id not in live:
            leaked.append((address_pk, pod_id, bound_at, pool_pk))
    ips = chunked_dict(Address.objects, [row[0] for row in leaked], ("ip",))
    pool_fields = ("k8s_cluster_id", "namespace", "kind", "name", "subnet__subnet_id")
    pools = chunked_dict(Pool.objects, {row[3] for row in leaked}, pool_fields)
    for address_pk, pod_id, bound_at, pool_pk in leaked:
        phase = finished.get(pod_id)
        why = (
            f"pod has finished (status.phase {phase})"
            if phase
            else f"pod is not among the cluster's {snapshot.live_pods} live pods"
        )
        plan.leaked.append(
            Finding(
                what=LEAKED_BINDING,
                pool=str(Workload(*pools[pool_pk][:4])),
                subnet_id=pools[pool_pk][4],
                since=bound_at,
                why=why,
                pod_id=pod_id,
                ip=ips[address_pk][0],
                address_pk=address_pk,
                pool_pk=pool_pk,
                seen_at=bound_at,
            )
        )


def _find_pool_leaks(plan: Plan) -> None:
    snapshot, cutoff = plan.snapshot, plan.cutoff
    unjudged: Counter = Counter()
    pools = Pool.objects.active().filter(k8s_cluster_id=plan.cluster_id)
    fields = ("kind", "namespace", "name", "target", "created_at", "updated_at", "subnet__subnet_id")
    for pool_pk, kind, namespace, name, target, created_at, updated_at, subnet_id in keyset(pools, fields):
        if not snapshot.lists_kind(kind):
            unjudged[kind] += 1
            continue
        key: WorkloadKey = (kind, namespace, name)
        replicas = snapshot.replicas.get(key)
        if replicas is not None and replicas == target:
            continue
        # Created, or changed by the webhook, within the grace: its workload may be on its way.
        if created_at >= cutoff or updated_at >= cutoff:
            plan.young_pools += 1
            continue
        pool_text = str(Workload(plan.cluster_id, namespace, kind, name))
        common = {"pool": pool_text, "subnet_id": subnet_id, "pool_pk": pool_pk, "seen_at": updated_at}
        if replicas is None:
            plan.orphaned.append(
                Finding(
                    what=ORPHANED_POOL,
                    since=created_at,
                    why=f"{workload_text(key)} not found in the cluster",
                    target=target,
                    **common,
                )
            )
        else:
            live = snapshot.live_pods_by_workload.get(key, 0)
            plan.drifted.append(
                Finding(
                    what=TARGET_DRIFT,
                    since=updated_at,
                    why=f"target {target}, but {workload_text(key)} has {replicas_field(kind)} {replicas} "
                    f"({live} live pods)",
                    target=target,
                    replicas=replicas,
                    **common,
                )
            )
    for kind, count in sorted(unjudged.items()):
        label = Kind(kind).label
        plan.warnings.append(
            f"no {label} was listed, so {count} active pools of {label}s were not checked "
            f"(an empty list is not trusted: was the kind left out of the kubectl command?)"
        )
