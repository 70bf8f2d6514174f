"""`manage.py reconcile` after a failover: lost pools (reported, recreated only when asked), the pods
it does not check, what the API, console and metrics show, IPv6, the Kubernetes API, released pools."""

from __future__ import annotations

import json

from django.urls import reverse
from prometheus_client import CollectorRegistry, generate_latest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.choices import AdminAction, Kind, ReqType
from leases.models import ReconcileRun
from leases.reconcile.cluster import read_from_json
from leases.reconcile.compare import plan_changes
from leases.reconcile.metrics import ReconcileCollector
from leases.reconcile.run import Options, finish_run, start_run
from pools.models import Address, Pool
from tests.support.api import holder, make_subnet
from tests.support.kube import (
    FakeKubeAPI,
    cronjob,
    job,
    pod,
    statefulset,
)
from tests.support.reconcile import age, bind, consistent, reconcile, row_of
from tests.support.reconcile_failover import cluster, lose_binding, lose_reservation, restore_events, web


def test_a_lost_pool_is_reported_with_what_it_needs_and_recreated_only_when_asked(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b"], replicas=2)
    lost = bind(v1, ["db-0", "db-1"], replicas=3, name="db", kind=Kind.STATEFULSET)
    age()
    # The CreateIPPool of StatefulSet db and all that followed never reached the standby.
    lost_pool = Pool.objects.get(name="db")
    for ip in lost.values():
        lose_reservation(ip)
    Address.objects.filter(pool=lost_pool).delete()
    lost_pool.delete()
    assert consistent()
    db = statefulset("db", 3)
    path = cluster(
        tmp_path,
        *web(ips, replicas=2),
        db,
        pod("db-0", owner=db, ip=lost["db-0"]),
        pod("db-1", owner=db, ip=lost["db-1"]),
    )

    code, out = reconcile("--from-json", path, "--output", "json")
    assert code == 1
    printed = json.loads(out[: out.rindex("}") + 1])
    (finding,) = [f for f in printed["Findings"] if f["What"] == "lost-pool"]
    assert (finding["Pool"], finding["SubnetID"], finding["Target"]) == ("c1/default/StatefulSet/db", "subnet-a", 3)
    assert sorted(finding["IPs"]) == sorted(lost.values()) and sorted(finding["K8SPodIDs"]) == ["db-0", "db-1"]
    assert "no active pool" in finding["Why"] and "--recreate-pools" in finding["Action"]
    assert printed["LostPools"] == 1

    # --apply alone leaves it standing, and says so with exit 1.
    assert reconcile("--from-json", path, "--apply")[0] == 1
    assert not Pool.objects.filter(name="db").exists()

    code, out = reconcile("--from-json", path, "--apply", "--recreate-pools")

    assert code == 0, out
    pool = Pool.objects.active().get(name="db")
    assert (pool.kind, pool.target, pool.reserved_count, pool.subnet.subnet_id) == (Kind.STATEFULSET, 3, 3, "subnet-a")
    assert {holder(ip) for ip in lost.values()} == {"db-0", "db-1"}
    assert Address.objects.filter(pool=pool, idle_since__isnull=False).count() == 1  # the third replica's
    run = ReconcileRun.objects.latest("id")
    assert (run.lost_pools, run.pools_recreated, run.status) == (1, 1, "applied")
    recreated = AuditEvent.objects.filter(admin_action=AdminAction.POOL_RECREATE, req_id=f"reconcile-{run.pk}")
    assert recreated.count() == 1  # the pool; its two bindings are restores, as any lost binding's
    assert set(restore_events().values_list("pod_id", flat=True)) == {"db-0", "db-1"}
    # The failover lost the RequireIPs too: the restores alone prove the bindings.
    AuditEvent.objects.filter(req_type=ReqType.REQUIRE_IP, pod_id__in=["db-0", "db-1"]).delete()
    assert consistent()
    assert v1.require("db-2", name="db", kind=Kind.STATEFULSET).json()["IP"] not in lost.values()


def test_a_lost_pool_is_not_recreated_when_the_webhook_created_it_meanwhile(v1, tmp_path):
    bind(v1, [], replicas=0, name="batch", kind=Kind.JOB)
    Pool.objects.filter(name="batch").delete()
    batch = job("batch", parallelism=1)
    options = Options(cluster_id="c1", apply=True, recreate_pools=True)
    bind(v1, ["keep"], name="web")
    age()
    run = start_run(options)
    path = cluster(tmp_path, *web({"keep": ""}, replicas=1), batch, pod("job-1", owner=batch, ip="10.0.3.77"))
    plan = plan_changes(cluster_id="c1", snapshot=read_from_json(path), grace_seconds=300, recreate_pools=True)
    assert [f.what for f in plan.lost_pools] == ["lost-pool"]
    assert v1.create_pool(1, name="batch", kind=Kind.JOB).json()["Code"] == 0  # the webhook, meanwhile

    outcome = finish_run(run, plan, options)

    (finding,) = [f for f in outcome.findings if f.what == "lost-pool"]
    assert finding.action.startswith("skipped:")
    assert Pool.objects.active().filter(name="batch").count() == 1
    assert Pool.objects.active().get(name="batch").reserved_count == 1


def test_pods_being_deleted_and_host_network_pods_are_not_checked(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b"], replicas=2)
    age()
    lose_binding(ips["pod-a"])
    items = web(ips, replicas=2)
    items[2]["metadata"]["deletionTimestamp"] = "2026-10-01T15:00:00Z"  # pod-a: its CNI DEL is on its way
    host = pod("host-1", owner=items[1], ip=ips["pod-b"])
    host["spec"]["hostNetwork"] = True
    path = cluster(tmp_path, *items, host)

    code, out = reconcile("--from-json", path)

    assert code == 0, out
    assert "lost-binding" not in out and "address-conflict" not in out


def test_the_api_the_console_and_the_metrics_show_the_new_kinds(v1, tmp_path, operator_token, admin_client):
    ips = bind(v1, ["pod-a", "pod-b", "pod-c"])
    lose_binding(ips["pod-a"])
    assert v1.require("pod-x").json()["IP"] == ips["pod-a"]
    lose_binding(ips["pod-b"])
    age()
    path = cluster(tmp_path, *web({**ips, "pod-x": ips["pod-a"]}))
    assert reconcile("--from-json", path)[0] == 3

    answer = APIClient().get("/v1/reconcile/runs", HTTP_AUTHORIZATION=f"Bearer {operator_token}").json()
    (shown,) = answer["Results"]
    assert (shown["Status"], shown["ExitCode"], shown["AddressConflicts"], shown["LostBindings"]) == (
        "conflicts",
        3,
        1,
        1,
    )
    assert (shown["BindingsRestored"], shown["LostPools"], shown["PoolsRecreated"]) == (0, 0, 0)
    assert {f["What"] for f in shown["Findings"]} == {"address-conflict", "lost-binding"}

    run = ReconcileRun.objects.get()
    detail = admin_client.get(reverse("admin:leases_reconcilerun_change", args=[run.pk])).content.decode()
    for text in ('class="finding-address-conflict"', 'class="finding-lost-binding"', "pod-a, pod-x"):
        assert text in detail
    listing = admin_client.get(reverse("admin:leases_reconcilerun_changelist")).content.decode()
    assert "address conflicts found" in listing

    registry = CollectorRegistry()
    registry.register(ReconcileCollector())
    text = generate_latest(registry).decode()
    for line in (
        'ipresmgr_reconcile_lost_bindings{cluster="c1"} 1.0',
        'ipresmgr_reconcile_bindings_restored{cluster="c1"} 0.0',
        'ipresmgr_reconcile_address_conflicts{cluster="c1"} 1.0',
        'ipresmgr_reconcile_lost_pools{cluster="c1"} 0.0',
    ):
        assert line in text, text


def test_ipv6_pod_addresses_are_matched_to_their_subnet(v1, tmp_path):
    make_subnet(subnet_id="subnet-6", cidr="fd00:10::/64", gateway="fd00:10::1")
    assert v1.create_pool(2, subnet_id="subnet-6", gateway="fd00:10::1").json()["Code"] == 0
    ips = {pod_id: v1.require(pod_id).json()["IP"] for pod_id in ("pod-a", "pod-b")}
    assert all(":" in ip for ip in ips.values())
    age()
    lose_reservation(ips["pod-a"])
    path = cluster(tmp_path, *web(ips, replicas=2))

    code, out = reconcile("--from-json", path, "--apply")

    assert code == 0, out
    assert holder(ips["pod-a"]) == "pod-a" and consistent()


def test_lost_bindings_through_the_kubernetes_api_with_a_cronjobs_pod(v1, tmp_path):
    """The official client against the stand-in API server, pages of two; a CronJob's pod (pod ->
    Job -> CronJob) is matched to the CronJob's pool, as the CNI plugin resolves it."""
    ips = bind(v1, ["pod-a", "pod-b", "pod-c"])
    nightly_ips = bind(v1, ["job-pod"], name="nightly", kind=Kind.CRONJOB)
    age()
    lose_binding(ips["pod-b"])
    lose_reservation(nightly_ips["job-pod"])
    nightly = cronjob("nightly", parallelism=1)
    run_of_nightly = job("nightly-29000000", parallelism=1, owner=nightly)
    objects = [*web(ips), nightly, run_of_nightly, pod("job-pod", owner=run_of_nightly, ip=nightly_ips["job-pod"])]
    api = FakeKubeAPI(objects).start()
    try:
        kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
        code, out = reconcile("--kubeconfig", str(kubeconfig), "--page-size", "2", "--apply")
    finally:
        api.stop()

    assert code == 0, out
    assert holder(ips["pod-b"]) == "pod-b" and holder(nightly_ips["job-pod"]) == "job-pod"
    assert "c1/default/CronJob/nightly" in row_of(out, "lost-binding", "job-pod")
    assert ReconcileRun.objects.get().bindings_restored == 2
    assert consistent()


def test_an_address_kept_by_the_workloads_released_pool_is_a_conflict(v1, tmp_path, settings):
    settings.IPRESMGR_RELEASE_GRACE_SECONDS = 3600
    ips = bind(v1, ["pod-a"], replicas=1)
    lose_binding(ips["pod-a"])
    assert v1.release_pool().json()["Code"] == 0  # the old pool keeps its idle address for the grace
    assert v1.scale_pool(1).json()["Code"] == 20
    make_subnet(subnet_id="subnet-b", cidr="10.0.4.0/24", gateway="10.0.4.1")
    assert v1.create_pool(1, subnet_id="subnet-b", gateway="10.0.4.1").json()["Code"] == 0
    age()
    path = cluster(tmp_path, *web(ips, replicas=1))

    code, out = reconcile("--from-json", path, "--apply")

    assert code == 3, out
    assert "reserved by the released pool c1/default/Deployment/web (idle)" in row_of(out, "address-conflict")
    assert holder(ips["pod-a"]) is None
