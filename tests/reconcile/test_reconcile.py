"""`manage.py reconcile` from kubectl's JSON: what it finds, what --apply frees, and what it never
touches (live pods, young bindings and pools, another cluster, anything after a doubtful read).

Bindings and pools are made through the API; `age()` then moves them an hour into the past, as if
the cluster had run a while, so that the default grace of 300 s applies as in production."""

from __future__ import annotations

from django.utils import timezone

from audit import history
from core.choices import AdminAction, Kind, PoolState
from leases.models import Lease, ReconcileRun
from leases.reconcile.cluster import read_from_json
from leases.reconcile.compare import plan_changes
from leases.reconcile.run import Options, finish_run, start_run
from pools.models import Address, Pool
from tests.support.api import V1, holder
from tests.support.kube import cronjob, deployment, job, pod, replicaset, statefulset
from tests.support.reconcile import (
    age,
    bind,
    cluster_file,
    consistent,
    reconcile,
    reconcile_events,
    row_of,
    web,
)

# Leaked bindings ---------------------------------------------------------------------------------


def test_dry_run_reports_leaked_bindings_with_pod_ip_pool_since_and_why_and_changes_nothing(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b", "pod-c"])
    age()
    bound_at = Lease.objects.get(pod_id="pod-a").bound_at
    path = cluster_file(tmp_path, *web(["pod-b", "pod-c"]))

    code, out = reconcile("--from-json", path)

    assert code == 1
    row = row_of(out, "pod-a")
    for cell in ("leaked-binding", ips["pod-a"], "c1/default/Deployment/web", f"{bound_at:%Y-%m-%d %H:%M:%S}"):
        assert cell in row
    assert "pod is not among the cluster's 2 live pods" in row and "would end the binding" in row
    assert "pod-b" not in out and "pod-c" not in out
    assert holder(ips["pod-a"]) == "pod-a"  # a dry run changes nothing
    assert not reconcile_events().exists()
    run = ReconcileRun.objects.get()
    assert (run.status, run.exit_code, run.applied, run.leaked_bindings, run.bindings_freed) == (
        "leaks_found",
        1,
        False,
        1,
        0,
    )


def test_apply_frees_leaked_bindings_through_the_service_and_audits_each_with_its_reason(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b", "pod-c", "pod-d"])
    age()
    path = cluster_file(tmp_path, *web(["pod-b", "pod-c"], replicas=4))

    code, out = reconcile("--from-json", path, "--apply")

    assert code == 0, out
    assert holder(ips["pod-a"]) is None and holder(ips["pod-d"]) is None
    assert holder(ips["pod-b"]) == "pod-b" and holder(ips["pod-c"]) == "pod-c"  # live pods untouched
    # The pool keeps the freed addresses, idle, for its next pods (as a ReleaseIP would).
    assert Address.objects.filter(ip__in=[ips["pod-a"], ips["pod-d"]], idle_since__isnull=False).count() == 2
    run = ReconcileRun.objects.get()
    assert (run.status, run.exit_code, run.leaked_bindings, run.bindings_freed) == ("applied", 0, 2, 2)
    assert "binding ended; address idle" in row_of(out, "pod-a")
    events = list(reconcile_events())
    assert [(e.admin_action, e.pod_id, e.ip) for e in events] == [
        (AdminAction.BINDING_FORCE_RELEASE, "pod-a", ips["pod-a"]),
        (AdminAction.BINDING_FORCE_RELEASE, "pod-d", ips["pod-d"]),
    ]
    assert all(e.req_id == f"reconcile-{run.pk}" and e.name == "web" and e.k8s_cluster_id == "c1" for e in events)
    assert "reason: pod is not among the cluster's 2 live pods" in events[0].msg
    # "Who held this IP" sees the binding end there.
    held = history.holder_at(ip=ips["pod-a"], at=timezone.now())
    assert held.pod_id is None and held.ended_event == events[0]
    assert consistent()
    # The freed addresses serve new pods.
    assert v1.require("pod-e").json()["IP"] in (ips["pod-a"], ips["pod-d"])


def test_bindings_of_finished_pods_are_leaks(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b", "pod-c"])
    job_ips = bind(v1, ["job-1", "job-2"], name="batch", kind=Kind.JOB)
    age()
    batch = job("batch", parallelism=2)
    path = cluster_file(
        tmp_path,
        *web(["pod-a", "pod-b", "pod-c"]),
        batch,
        pod("job-1", owner=batch, phase="Succeeded"),
        pod("job-2", owner=batch, phase="Failed"),
    )

    code, out = reconcile("--from-json", path, "--apply")

    assert code == 0, out
    assert "pod has finished (status.phase Succeeded)" in row_of(out, "job-1")
    assert "pod has finished (status.phase Failed)" in row_of(out, "job-2")
    assert holder(job_ips["job-1"]) is None and holder(job_ips["job-2"]) is None
    assert {holder(ip) for ip in ips.values()} == {"pod-a", "pod-b", "pod-c"}


def test_young_bindings_are_left_alone(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b"], replicas=3)
    age()
    young = v1.require("pod-new").json()["IP"]  # bound a moment ago: the pod may not be listed yet
    path = cluster_file(tmp_path, *web(["pod-a", "pod-b"]))

    code, out = reconcile("--from-json", path, "--apply")

    assert code == 0, out
    assert holder(young) == "pod-new"
    run = ReconcileRun.objects.get()
    assert (run.leaked_bindings, run.report["young_bindings"]) == (0, 1)
    assert "left alone as younger than the grace: 1 bindings" in out
    # With no grace it would be a leak (the file is written after the binding).
    code, out = reconcile("--from-json", path, "--grace-seconds", "0")
    assert code == 1 and "pod-new" in out
    assert holder(young) == "pod-new" and {holder(ip) for ip in ips.values()} == {"pod-a", "pod-b"}


def test_a_binding_given_to_a_new_pod_between_read_and_apply_is_untouched(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b", "pod-c"])
    age()
    options = Options(cluster_id="c1", apply=True)
    run = start_run(options)
    snapshot = read_from_json(cluster_file(tmp_path, *web(["pod-b", "pod-c"])))
    plan = plan_changes(cluster_id="c1", snapshot=snapshot, grace_seconds=300)
    assert [f.pod_id for f in plan.leaked] == ["pod-a"]
    # Meanwhile pod-a's CNI DEL arrives at last, and a new pod gets the very same address.
    assert v1.release("pod-a").json()["Code"] == 0
    assert v1.require("pod-new").json()["IP"] == ips["pod-a"]

    outcome = finish_run(run, plan, options)

    assert holder(ips["pod-a"]) == "pod-new"
    run.refresh_from_db()
    assert (run.status, run.bindings_freed, run.report["changes_skipped"]) == ("applied", 0, 1)
    assert outcome.findings[0].action.startswith(f"skipped: {ips['pod-a']} was bound again (to pod pod-new")
    assert not reconcile_events().exists()


# Pools -------------------------------------------------------------------------------------------


def test_pools_of_deleted_workloads_are_released_and_their_live_pods_keep_their_addresses(v1, tmp_path):
    bind(v1, ["pod-a", "pod-b"], replicas=2)
    gone = bind(v1, ["old-1", "old-2"], replicas=3, name="old")
    bind(v1, ["db-0"], name="db", kind=Kind.STATEFULSET)
    bind(v1, [], replicas=2, name="nightly", kind=Kind.CRONJOB)
    age()
    # Deployment "old" was deleted; one of its pods is still terminating. StatefulSet "db" and
    # CronJob "nightly" are gone too.
    dep = deployment("web", 2)
    rs = replicaset(dep)
    path = cluster_file(
        tmp_path,
        dep,
        rs,
        pod("pod-a", owner=rs),
        pod("pod-b", owner=rs),
        pod("old-1"),
        statefulset("cache", 1),
        cronjob("hourly"),
    )

    code, out = reconcile("--from-json", path)
    assert code == 1
    for name in ("old", "db", "nightly"):
        assert "not found in the cluster" in row_of(out, "orphaned-pool", f"/{name} ")
    assert "Deployment default/old not found in the cluster" in out

    code, out = reconcile("--from-json", path, "--apply")

    assert code == 0, out
    states = dict(Pool.objects.values_list("name", "state"))
    assert states == {"web": "active", "old": "released", "db": "released", "nightly": "released"}
    assert holder(gone["old-1"]) == "old-1"  # its pod is alive: it keeps the address until CNI DEL
    assert holder(gone["old-2"]) is None  # leaked, freed, and back to the subnet with its pool
    assert not Address.objects.filter(ip=gone["old-2"]).exists()
    run = ReconcileRun.objects.latest("id")
    assert (run.orphaned_pools, run.pools_released, run.bindings_freed) == (3, 3, 2)
    released = reconcile_events().filter(admin_action=AdminAction.POOL_RELEASE)
    assert sorted(e.name for e in released) == ["db", "nightly", "old"]
    assert all("reason: " in e.msg and "not found in the cluster" in e.msg for e in released)
    assert consistent()


def test_a_young_pool_without_its_workload_is_left_alone(v1, tmp_path):
    bind(v1, ["pod-a", "pod-b"])
    age()
    # The webhook creates the pool when it admits the workload, before the workload exists.
    assert v1.create_pool(3, name="coming").json()["Code"] == 0
    path = cluster_file(tmp_path, *web(["pod-a", "pod-b"], replicas=2))

    code, out = reconcile("--from-json", path, "--apply")

    assert code == 0, out
    assert Pool.objects.get(name="coming").state == PoolState.ACTIVE
    assert ReconcileRun.objects.get().report["young_pools"] == 1


def test_a_pool_the_webhook_changes_between_read_and_apply_is_left_alone(v1, tmp_path):
    bind(v1, ["pod-a", "pod-b"], replicas=2)
    bind(v1, [], replicas=2, name="api")
    age()
    options = Options(cluster_id="c1", apply=True)
    run = start_run(options)
    snapshot = read_from_json(cluster_file(tmp_path, *web(["pod-a", "pod-b"], replicas=2)))
    plan = plan_changes(cluster_id="c1", snapshot=snapshot, grace_seconds=300)
    assert [f.pool for f in plan.orphaned] == ["c1/default/Deployment/api"]
    assert v1.scale_pool(4, name="api").json()["Code"] == 0  # the workload is back, or never left

    finish_run(run, plan, options)

    api = Pool.objects.get(name="api")
    assert (api.state, api.target) == ("active", 4)
    run.refresh_from_db()
    assert (run.pools_released, run.report["changes_skipped"]) == (0, 1)


def test_drifted_targets_are_reported_only_unless_fix_targets(v1, tmp_path):
    bind(v1, ["pod-a", "pod-b"], replicas=2)
    bind(v1, ["job-1"], replicas=1, name="batch", kind=Kind.JOB)
    bind(v1, [], replicas=1, name="nightly", kind=Kind.CRONJOB)
    age()
    batch = job("batch", parallelism=3)
    path = cluster_file(
        tmp_path, *web(["pod-a", "pod-b"], replicas=5), batch, pod("job-1", owner=batch), cronjob("nightly", 2)
    )

    code, out = reconcile("--from-json", path, "--apply")

    assert code == 0, out
    assert "target 2, but Deployment default/web has spec.replicas 5 (2 live pods)" in row_of(out, "/web ")
    assert "target 1, but Job default/batch has spec.parallelism 3 (1 live pods)" in row_of(out, "/batch ")
    assert "spec.jobTemplate.spec.parallelism 2" in row_of(out, "/nightly ")
    assert "reported only (--fix-targets sets it)" in out
    assert dict(Pool.objects.values_list("name", "target")) == {"web": 2, "batch": 1, "nightly": 1}
    run = ReconcileRun.objects.get()
    assert (run.status, run.drifted_pools, run.targets_fixed) == ("clean", 3, 0)

    code, out = reconcile("--from-json", path, "--fix-targets")  # a dry run: exit 1, nothing set
    assert code == 1 and "would set the target to 5" in out
    assert Pool.objects.get(name="web").target == 2

    code, out = reconcile("--from-json", path, "--apply", "--fix-targets")

    assert code == 0, out
    assert dict(Pool.objects.values_list("name", "target")) == {"web": 5, "batch": 3, "nightly": 2}
    assert Pool.objects.get(name="web").reserved_count == 5
    resized = reconcile_events().filter(admin_action=AdminAction.POOL_RESIZE)
    assert sorted((e.name, e.detail["new_target"]) for e in resized) == [("batch", 3), ("nightly", 2), ("web", 5)]
    assert all("spec." in e.detail["reason"] for e in resized)


def test_pools_of_a_kind_nothing_was_listed_of_are_not_judged(v1, tmp_path):
    bind(v1, ["pod-a", "pod-b"])
    bind(v1, [], replicas=2, name="db", kind=Kind.STATEFULSET)
    age()
    path = cluster_file(tmp_path, *web(["pod-a", "pod-b"], replicas=2))  # no StatefulSet at all

    code, out = reconcile("--from-json", path, "--apply")

    assert code == 0, out
    assert Pool.objects.get(name="db").state == PoolState.ACTIVE
    assert "warning: no StatefulSet was listed, so 1 active pools of StatefulSets were not checked" in out


# Scope and repetition ----------------------------------------------------------------------------


def test_another_clusters_addresses_and_pools_are_untouched(v1, other_cluster_token, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b", "pod-c"])
    theirs = bind(V1(other_cluster_token), ["their-1", "their-2"], cluster="c2")
    age()
    path = cluster_file(tmp_path, *web(["pod-b", "pod-c"]))  # c1's cluster knows nothing of c2's pods

    code, out = reconcile("--from-json", path, "--apply")

    assert code == 0, out
    assert holder(ips["pod-a"]) is None
    assert {holder(ip) for ip in theirs.values()} == {"their-1", "their-2"}
    assert Pool.objects.get(k8s_cluster_id="c2").state == PoolState.ACTIVE
    assert ReconcileRun.objects.get().report["bindings_checked"] == 3
    assert "their-" not in out


def test_a_second_run_right_after_finds_nothing(v1, tmp_path):
    bind(v1, ["pod-a", "pod-b", "pod-c"])
    bind(v1, ["old-1"], name="old")
    age()
    path = cluster_file(tmp_path, *web(["pod-b", "pod-c"]))
    assert reconcile("--from-json", path, "--apply")[0] == 0

    code, out = reconcile("--from-json", path)

    assert code == 0, out
    second = ReconcileRun.objects.latest("id")
    assert (second.status, second.leaked_bindings, second.orphaned_pools) == ("clean", 0, 0)
    assert "leaked bindings: 0, pools of deleted workloads: 0" in out
