"""`manage.py reconcile` after a database failover that lost commits: bindings and pools the cluster
shows and the database no longer holds are found and (with --apply) restored; addresses two live
pods hold are reported with exit code 3 and never changed.

Bindings are made through the API; `lose_binding` / `lose_reservation` then make the database hold
what a promoted standby would hold had those commits not reached it. The cluster is kubectl's JSON,
each pod showing its address in status.podIPs."""

from __future__ import annotations

import json
from datetime import timedelta

from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core import addressing
from core.choices import AdminAction, Kind, ReqType
from leases.models import Lease, ReconcileRun
from leases.reconcile.cluster import read_from_json
from leases.reconcile.compare import plan_changes
from leases.reconcile.metrics import ReconcileCollector
from leases.reconcile.run import Options, finish_run, start_run
from pools.models import Address, Pool, QuarantinedAddress, Subnet, SubnetExclusion
from tests.support.api import holder, make_subnet
from tests.support.kube import (
    FakeKubeAPI,
    cronjob,
    deployment,
    job,
    kubectl_list,
    pod,
    replicaset,
    statefulset,
    write_json,
)
from tests.support.reconcile import age, bind, consistent, reconcile, row_of


def lose_binding(ip: str) -> None:
    """The pod's RequireIP never reached the standby: the address is idle again, since long ago."""
    address = Address.objects.get(ip=ip)
    Lease.objects.filter(address=address).delete()
    Address.objects.filter(pk=address.pk).update(idle_since=timezone.now() - timedelta(hours=2))


def lose_reservation(ip: str) -> None:
    """The reservation of the address (a surge, a scale) was lost too: it is free in its subnet."""
    address = Address.objects.get(ip=ip)
    Lease.objects.filter(address=address).delete()
    address.delete()
    Pool.objects.filter(pk=address.pool_id).update(reserved_count=F("reserved_count") - 1)


def web(pod_ips: dict[str, str], *, replicas: int = 3, name: str = "web", extra=()) -> list[dict]:
    """A Deployment, its ReplicaSet and its running pods, each on its address (pod -> IP; '' for none)."""
    dep = deployment(name, replicas)
    rs = replicaset(dep)
    return [dep, rs, *(pod(uid, owner=rs, ip=ip) for uid, ip in pod_ips.items()), *extra]


def cluster(tmp_path, *items, name: str = "cluster.json") -> str:
    return str(write_json(tmp_path / name, kubectl_list(*items)))


def restore_events():
    return AuditEvent.objects.filter(admin_action=AdminAction.BINDING_RESTORE).order_by("id")


def test_a_lost_binding_of_an_idle_address_is_reported_then_restored(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b", "pod-c"])
    age()
    lose_binding(ips["pod-a"])
    path = cluster(tmp_path, *web(ips))

    code, out = reconcile("--from-json", path)

    assert code == 1, out
    row = row_of(out, "lost-binding")
    assert "pod-a" in row and ips["pod-a"] in row and "c1/default/Deployment/web" in row
    assert "idle since" in row and "would bind the address to the pod" in row
    assert holder(ips["pod-a"]) is None and not restore_events().exists()  # a dry run changes nothing
    dry = ReconcileRun.objects.get()
    assert (dry.status, dry.exit_code, dry.lost_bindings, dry.bindings_restored) == ("leaks_found", 1, 1, 0)

    code, out = reconcile("--from-json", path, "--apply")

    assert code == 0, out
    assert holder(ips["pod-a"]) == "pod-a"
    run = ReconcileRun.objects.latest("id")
    assert (run.status, run.lost_bindings, run.bindings_restored) == ("applied", 1, 1)
    (event,) = restore_events()
    assert (event.pod_id, event.ip, event.req_id, event.name, event.actor) == (
        "pod-a",
        ips["pod-a"],
        f"reconcile-{run.pk}",
        "web",
        "reconcile",
    )
    assert "lost binding of pod pod-a restored (idle address bound)" in event.msg
    assert consistent()
    # The restored address is the pod's again: a new pod gets another one, and pod-a's retried
    # ADD gets its own.
    assert v1.require("pod-a").json()["IP"] == ips["pod-a"]
    assert v1.require("pod-new").json()["IP"] not in ips.values()
    assert reconcile("--from-json", path)[0] == 0


def test_a_lost_binding_of_an_address_not_reserved_at_all_is_reserved_into_the_pool_and_bound(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b", "pod-c"])
    age()
    pool = Pool.objects.get()
    old_mac = Address.objects.get(ip=ips["pod-a"]).mac
    lose_reservation(ips["pod-a"])
    assert Pool.objects.get().reserved_count == 2 and consistent()
    path = cluster(tmp_path, *web(ips))

    code, out = reconcile("--from-json", path)
    assert code == 1 and "not reserved at all (free in subnet-a)" in row_of(out, "lost-binding")
    assert "would reserve the address into the pool and bind it to the pod" in row_of(out, "lost-binding")
    assert not Address.objects.filter(ip=ips["pod-a"]).exists()

    code, out = reconcile("--from-json", path, "--apply")

    assert code == 0, out
    address = Address.objects.get(ip=ips["pod-a"])
    assert (address.pool_id, address.subnet.subnet_id, address.idle_since) == (pool.pk, "subnet-a", None)
    assert address.mac and address.mac != old_mac and address.port_id  # made as a reservation makes them
    assert holder(ips["pod-a"]) == "pod-a"
    assert Pool.objects.get().reserved_count == 3
    (event,) = restore_events()
    assert "reserved into the pool and bound" in event.msg and event.detail["reserved"] is True
    assert consistent()
    # The subnet never hands the address out again while it is bound.
    assert v1.scale_pool(10, 3).json()["Code"] == 0
    assert Address.objects.filter(ip=ips["pod-a"]).count() == 1 and consistent()


def test_an_address_the_database_binds_to_another_live_pod_is_a_conflict_exit_3_nothing_changed(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b", "pod-c"])
    lose_binding(ips["pod-a"])
    # After the failover the lost address is idle longest: the next pod gets it. The duplicate.
    assert v1.require("pod-x").json()["IP"] == ips["pod-a"]
    age()
    # pod-x is live but has not shown its address yet.
    path = cluster(tmp_path, *web({**ips, "pod-x": ""}, replicas=4))
    before = list(Lease.objects.order_by("pk").values_list("pk", "pod_id", "bound_at"))

    code, out = reconcile("--from-json", path, "--apply")

    assert code == 3, out
    row = row_of(out, "address-conflict")
    assert "pod-a" in row and ips["pod-a"] in row and "the database binds it to another live pod, pod-x" in row
    assert "reported only: never changed automatically" in row
    assert "address conflicts" in out.splitlines()[-1]
    assert list(Lease.objects.order_by("pk").values_list("pk", "pod_id", "bound_at")) == before
    assert not restore_events().exists()
    run = ReconcileRun.objects.get()
    assert (run.status, run.exit_code, run.address_conflicts, run.lost_bindings) == ("conflicts", 3, 1, 0)
    assert run.report["findings"][0]["K8SPodIDs"] == ["pod-a", "pod-x"]


def test_two_live_pods_on_one_address_are_a_conflict_even_when_the_database_agrees_with_one(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b"])
    lose_binding(ips["pod-a"])
    assert v1.require("pod-x").json()["IP"] == ips["pod-a"]
    age()
    path = cluster(tmp_path, *web({**ips, "pod-x": ips["pod-a"]}))

    code, out = reconcile("--from-json", path, "--output", "json")

    assert code == 3
    printed = json.loads(out[: out.rindex("}") + 1])
    (conflict,) = [f for f in printed["Findings"] if f["What"] == "address-conflict"]
    assert conflict["IP"] == ips["pod-a"] and sorted(conflict["K8SPodIDs"]) == ["pod-a", "pod-x"]
    assert "2 live pods show this address" in conflict["Why"]
    assert conflict["K8SPodIDs"][-1] == "pod-x" and conflict["Why"].endswith(
        "the database binds it to pod default/web-5d4f9c7b8-pod-x (pod-x)"
    )
    assert (printed["Status"], printed["ExitCode"], printed["AddressConflicts"]) == ("conflicts", 3, 1)
    assert holder(ips["pod-a"]) == "pod-x"


def test_conflicts_win_over_other_findings_and_the_rest_is_still_applied(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b", "pod-c", "pod-d"], replicas=5)
    lose_binding(ips["pod-a"])
    assert v1.require("pod-x").json()["IP"] == ips["pod-a"]
    lose_binding(ips["pod-b"])
    age()
    # pod-d is gone (a leak); pod-a and pod-x share an address; pod-b's binding was lost.
    path = cluster(tmp_path, *web({"pod-a": ips["pod-a"], "pod-b": ips["pod-b"], "pod-c": ips["pod-c"], "pod-x": ""}))

    assert reconcile("--from-json", path)[0] == 3
    code, out = reconcile("--from-json", path, "--apply")

    assert code == 3, out
    assert holder(ips["pod-b"]) == "pod-b" and holder(ips["pod-d"]) is None
    assert holder(ips["pod-a"]) == "pod-x"
    run = ReconcileRun.objects.latest("id")
    assert (run.address_conflicts, run.bindings_restored, run.bindings_freed) == (1, 1, 1)
    assert consistent()


def test_pod_addresses_outside_the_managed_subnets_are_ignored(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b"])
    age()
    other = deployment("elsewhere", 2)
    other_rs = replicaset(other)
    path = cluster(
        tmp_path,
        *web(ips, replicas=2),
        other,
        other_rs,
        pod("far-1", owner=other_rs, ip="192.168.7.7"),
        pod("far-2", owner=other_rs, ip="192.168.7.7"),  # even two on one address: not ours
        pod("far-3", owner=other_rs, ip="fd00::7"),
    )

    code, out = reconcile("--from-json", path, "--output", "json")

    assert code == 0, out
    run = ReconcileRun.objects.get()
    assert (run.status, run.address_conflicts, run.lost_bindings, run.lost_pools) == ("clean", 0, 0, 0)
    assert run.report["pod_addresses_checked"] == 2  # pod-a's and pod-b's


def test_an_excluded_address_a_pod_shows_is_a_conflict_not_bound(v1, subnet, tmp_path):
    ips = bind(v1, ["pod-a"], replicas=2)
    SubnetExclusion.objects.create(subnet=Subnet.objects.get(), first_ip="10.0.3.200", last_ip="10.0.3.210")
    age()
    path = cluster(tmp_path, *web({**ips, "pod-z": "10.0.3.205", "pod-gw": "10.0.3.1"}, replicas=2))

    code, out = reconcile("--from-json", path, "--apply")

    assert code == 3, out
    for pod_id in ("pod-z", "pod-gw"):
        assert "excluded from subnet subnet-a" in row_of(out, "address-conflict", pod_id)
    assert not Address.objects.filter(ip__in=["10.0.3.205", "10.0.3.1"]).exists()


def test_a_quarantined_address_a_pod_shows_is_a_conflict_never_bound_back(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b"], replicas=2)
    body = {
        **v1.workload(),
        "K8SPodID": "pod-a",
        "IP": ips["pod-a"],
        "Conflict": True,
        "ConflictMacAddr": "52:54:00:ab:cd:ef",
    }
    assert v1.post("/v1/ip/release", body).json()["Code"] == 0
    assert QuarantinedAddress.objects.filter(ip=ips["pod-a"]).exists()
    age()
    path = cluster(tmp_path, *web(ips, replicas=2))  # the pod still shows the address it lost

    code, out = reconcile("--from-json", path, "--apply")

    assert code == 3, out
    assert "quarantined in subnet subnet-a" in row_of(out, "address-conflict", "pod-a")
    assert holder(ips["pod-a"]) is None and not Address.objects.filter(ip=ips["pod-a"]).exists()
    assert not restore_events().exists() and consistent()


def test_a_listing_with_one_pod_twice_is_refused_and_nothing_changes(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b"], replicas=2)
    age()
    lose_binding(ips["pod-a"])
    dep = deployment("web", 2)
    rs = replicaset(dep)
    twice = [dep, rs, pod("pod-a", owner=rs, ip=ips["pod-a"]), pod("pod-a", owner=rs, ip=ips["pod-b"])]

    code, out = reconcile("--from-json", cluster(tmp_path, *twice), "--apply")

    assert code == 2 and "pod pod-a is listed twice" in out, out
    assert holder(ips["pod-a"]) is None and holder(ips["pod-b"]) == "pod-b" and not restore_events().exists()


def test_an_address_bound_by_a_require_between_read_and_apply_is_not_taken(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b", "pod-c"])
    age()
    lose_binding(ips["pod-a"])
    options = Options(cluster_id="c1", apply=True)
    run = start_run(options)
    plan = plan_changes(cluster_id="c1", snapshot=read_from_json(cluster(tmp_path, *web(ips))), grace_seconds=300)
    assert [(f.what, f.pod_id) for f in plan.lost] == [("lost-binding", "pod-a")]
    # Meanwhile a new pod's ADD gets the idle address (idle longest).
    assert v1.require("pod-new").json()["IP"] == ips["pod-a"]

    outcome = finish_run(run, plan, options)

    assert holder(ips["pod-a"]) == "pod-new"
    (finding,) = [f for f in outcome.findings if f.what == "lost-binding"]
    assert finding.action.startswith("skipped:") and "after the cluster was read" in finding.action
    run.refresh_from_db()
    assert (run.bindings_restored, run.report["changes_skipped"]) == (0, 1)
    # Still lost (pod-a and pod-new now share the address): not "applied", act on it.
    assert (run.status, run.exit_code) == ("leaks_found", 1)
    assert not restore_events().exists()


def test_an_address_bound_and_released_again_between_read_and_apply_is_left_alone(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b", "pod-c"])
    age()
    lose_reservation(ips["pod-a"])
    options = Options(cluster_id="c1", apply=True)
    run = start_run(options)
    plan = plan_changes(cluster_id="c1", snapshot=read_from_json(cluster(tmp_path, *web(ips))), grace_seconds=300)
    assert [f.address_state for f in plan.lost] == ["free"]
    # The address went through a pod meanwhile (reserved by a surge, bound, released, returned):
    # as the database stands it is free again, but what the run read no longer holds.
    Pool.objects.update(target=2)
    Subnet.objects.update(alloc_cursor=addressing.ip_key(addressing.parse_ip(ips["pod-a"])))  # next-fit's turn
    assert v1.require("pod-new").json()["IP"] == ips["pod-a"]
    assert v1.release("pod-new").json()["Code"] == 0
    assert not Address.objects.filter(ip=ips["pod-a"]).exists()

    outcome = finish_run(run, plan, options)

    (finding,) = [f for f in outcome.findings if f.what == "lost-binding"]
    assert "was bound or released after the cluster was read" in finding.action
    assert not Address.objects.filter(ip=ips["pod-a"]).exists()


def test_a_lost_binding_held_by_a_gone_pod_is_ended_then_restored(v1, tmp_path):
    """The pod's release was lost and its address given again: the database binds it to the old
    pod, which is gone, while the live pod shows it."""
    ips = bind(v1, ["pod-a", "pod-b"])
    age()
    Lease.objects.filter(pod_id="pod-a").update(pod_id="pod-gone")
    path = cluster(tmp_path, *web(ips, replicas=2))

    code, out = reconcile("--from-json", path, "--apply")

    assert code == 0, out
    assert holder(ips["pod-a"]) == "pod-a"
    assert "binding ended" in row_of(out, "leaked-binding", "pod-gone")
    assert "binding restored" in row_of(out, "lost-binding", "pod-a")
    assert consistent()


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
