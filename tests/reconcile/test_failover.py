"""`manage.py reconcile` after a database failover that lost commits: bindings and pools the cluster
shows and the database no longer holds are found and (with --apply) restored; addresses two live
pods hold are reported with exit code 3 and never changed.

Bindings are made through the API; `lose_binding` / `lose_reservation` then make the database hold
what a promoted standby would hold had those commits not reached it. The cluster is kubectl's JSON,
each pod showing its address in status.podIPs."""

from __future__ import annotations

import json

from core import addressing
from leases.models import Lease, ReconcileRun
from leases.reconcile.cluster import read_from_json
from leases.reconcile.compare import plan_changes
from leases.reconcile.run import Options, finish_run, start_run
from pools.models import Address, Pool, QuarantinedAddress, Subnet, SubnetExclusion
from tests.support.api import holder
from tests.support.kube import (
    deployment,
    pod,
    replicaset,
)
from tests.support.reconcile import age, bind, consistent, reconcile, row_of
from tests.support.reconcile_failover import cluster, lose_binding, lose_reservation, restore_events, web


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
