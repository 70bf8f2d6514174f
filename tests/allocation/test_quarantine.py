"""Quarantine: an address another host answers for on the wire (release with Conflict), kept out
of every pool until an operator clears it."""

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from core.choices import AdminAction, ReqType
from pools.models import Address, Pool, QuarantinedAddress
from tests.support.api import holder, make_subnet

INTRUDER = "52:54:00:AB:CD:EF"


def conflict_release(v1, pod, ip, mac=INTRUDER, **extra):
    body = {
        "ReqID": "req-conflict",
        **v1.workload(**extra.pop("workload", {})),
        "K8SApiResourceID": "rid-1",
        "K8SPodID": pod,
        "IP": ip,
        "Conflict": True,
        "ConflictMacAddr": mac,
        **extra,
    }
    return v1.post("/v1/ip/release", body)


def pool_of(name="web") -> Pool:
    return Pool.objects.get(name=name, state="active")


def test_conflict_release_ends_the_binding_and_quarantines_the_address(v1):
    v1.create_pool(2)
    ip = v1.require("pod-1").json()["IP"]
    mac = Address.objects.get(ip=ip).mac
    response = conflict_release(v1, "pod-1", ip)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"ReqID", "Code", "Msg"} and body["Code"] == 0
    assert f"{ip} quarantined" in body["Msg"]
    assert holder(ip) is None and not Address.objects.filter(ip=ip).exists()
    quarantined = QuarantinedAddress.objects.get(ip=ip)
    assert (quarantined.conflict_mac, quarantined.mac, quarantined.pod_id) == (INTRUDER.lower(), mac, "pod-1")
    assert (quarantined.k8s_cluster_id, quarantined.name, quarantined.subnet.subnet_id) == ("c1", "web", "subnet-a")
    # The pool left at target - 1 reserved a replacement at once.
    pool = pool_of()
    assert pool.reserved_count == 2 == Address.objects.filter(pool=pool).count()
    event = AuditEvent.objects.get(admin_action=AdminAction.QUARANTINE)
    assert (event.req_type, event.code, event.ip, event.pod_id, event.subnet_id) == (
        ReqType.RELEASE_IP,
        0,
        ip,
        "pod-1",
        "subnet-a",
    )
    assert event.detail["ConflictMacAddr"] == INTRUDER.lower() and event.detail["MacAddr"] == mac
    assert event.actor.startswith("cluster")


def test_the_retried_require_gets_another_address(v1):
    v1.create_pool(1)
    ip = v1.require("pod-1").json()["IP"]
    conflict_release(v1, "pod-1", ip)
    again = v1.require("pod-1").json()
    assert again["Code"] == 0 and again["IP"] != ip


def test_a_quarantined_address_is_never_handed_out(v1):
    # 10.0.9.0/29: .2-.6 may be handed out (the gateway is .1), five addresses.
    make_subnet("small", cidr="10.0.9.0/29", gateway="10.0.9.1")
    v1.create_pool(1, subnet_id="small", gateway="10.0.9.1")
    ip = v1.require("pod-1").json()["IP"]
    assert conflict_release(v1, "pod-1", ip).json()["Code"] == 0
    handed_out = set()
    # Requires surge past the target, then the subnet runs out: four addresses, never the fifth.
    for n in range(2, 8):
        answer = v1.require(f"pod-{n}").json()
        if answer["Code"]:
            assert answer["Code"] in (12, 30)
            break
        handed_out.add(answer["IP"])
    assert ip not in handed_out
    # Scale and create never reserve it either: the subnet is full without it.
    scaled = v1.scale_pool(5).json()
    assert scaled["Code"] == 12, scaled
    other = v1.create_pool(4, subnet_id="small", gateway="10.0.9.1", name="other").json()
    assert other["Code"] == 12, other
    released = [v1.release(f"pod-{n}").json()["Code"] for n in range(2, 8)]
    assert set(released) == {0}
    assert v1.scale_pool(4).json()["Code"] == 0
    assert v1.scale_pool(5).json()["Code"] == 12
    assert not Address.objects.filter(ip=ip).exists()
    assert QuarantinedAddress.objects.filter(ip=ip).exists()


def test_cleared_address_is_free_again(v1):
    make_subnet("small", cidr="10.0.9.0/29", gateway="10.0.9.1")
    v1.create_pool(4, subnet_id="small", gateway="10.0.9.1")
    ip = v1.require("pod-1").json()["IP"]
    conflict_release(v1, "pod-1", ip)
    assert pool_of().reserved_count == 4
    assert v1.scale_pool(5).json()["Code"] == 12
    call_command("clear_quarantine", "--subnet-id", "small", "--ip", ip, "--reason", "VM removed")
    assert not QuarantinedAddress.objects.exists()
    assert v1.scale_pool(5).json()["Code"] == 0
    assert Address.objects.filter(ip=ip, pool=pool_of()).exists()
    event = AuditEvent.objects.get(admin_action=AdminAction.CLEAR_QUARANTINE)
    assert (event.ip, event.subnet_id, event.pod_id, event.actor) == (ip, "small", "pod-1", "manage.py")
    assert "VM removed" in event.msg and INTRUDER.lower() in event.msg


def test_repeated_conflict_release_is_success_and_changes_nothing(v1):
    v1.create_pool(2)
    ip = v1.require("pod-1").json()["IP"]
    conflict_release(v1, "pod-1", ip)
    addresses = set(Address.objects.values_list("ip", flat=True))
    again = conflict_release(v1, "pod-1", ip).json()
    assert again["Code"] == 0 and "already quarantined" in again["Msg"]
    assert set(Address.objects.values_list("ip", flat=True)) == addresses
    assert QuarantinedAddress.objects.count() == 1 and pool_of().reserved_count == 2


def test_conflict_for_another_pods_address_is_refused(v1):
    v1.create_pool(2)
    ip = v1.require("pod-1").json()["IP"]
    response = conflict_release(v1, "pod-stale", ip)
    assert (response.status_code, response.json()["Code"]) == (409, 31)
    assert holder(ip) == "pod-1" and not QuarantinedAddress.objects.exists()
    assert pool_of().reserved_count == 2


def test_conflict_for_an_idle_address_of_the_pool_quarantines_it(v1):
    v1.create_pool(2)
    idle_ip = Address.objects.order_by("ip_key").first().ip
    assert conflict_release(v1, "pod-1", idle_ip).json()["Code"] == 0
    assert QuarantinedAddress.objects.filter(ip=idle_ip, pod_id="pod-1").exists()
    assert not Address.objects.filter(ip=idle_ip).exists() and pool_of().reserved_count == 2


def test_conflict_for_an_address_the_workload_does_not_hold_changes_nothing(v1):
    v1.create_pool(1)
    response = conflict_release(v1, "pod-1", "10.0.3.200").json()
    assert response["Code"] == 0 and "nothing to quarantine" in response["Msg"]
    assert not QuarantinedAddress.objects.exists()


def test_no_room_for_a_replacement_does_not_fail_the_release(v1):
    # 10.0.8.0/30: only .2 may be handed out.
    make_subnet("tiny", cidr="10.0.8.0/30", gateway="10.0.8.1")
    v1.create_pool(1, subnet_id="tiny", gateway="10.0.8.1")
    ip = v1.require("pod-1").json()["IP"]
    response = conflict_release(v1, "pod-1", ip).json()
    assert response["Code"] == 0 and "no replacement reserved" in response["Msg"]
    assert QuarantinedAddress.objects.filter(ip=ip).exists() and pool_of().reserved_count == 0
    assert v1.require("pod-1").json()["Code"] == 12


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"Conflict": "true"}, "Conflict"),
        ({"Conflict": 1}, "Conflict"),
        ({"Conflict": None}, "Conflict"),
        ({"ConflictMacAddr": "zz:zz:zz:zz:zz:zz"}, "ConflictMacAddr"),
        ({"ConflictMacAddr": 5}, "ConflictMacAddr"),
        ({"ConflictMacAddr": "52:54:00:ab:cd"}, "ConflictMacAddr"),
        ({"IP": ""}, "IP"),
    ],
)
def test_bad_conflict_fields_are_refused_and_change_nothing(v1, extra, field):
    v1.create_pool(2)
    ip = v1.require("pod-1").json()["IP"]
    response = conflict_release(v1, "pod-1", ip, **extra)
    assert (response.status_code, response.json()["Code"]) == (400, 1)
    assert field in response.json()["Msg"]
    assert holder(ip) == "pod-1" and not QuarantinedAddress.objects.exists()


def test_conflict_false_or_absent_is_an_ordinary_release(v1):
    v1.create_pool(2)
    ip = v1.require("pod-1").json()["IP"]
    assert conflict_release(v1, "pod-1", ip, Conflict=False).json()["Code"] == 0
    assert holder(ip) is None and Address.objects.get(ip=ip).idle_since is not None
    assert not QuarantinedAddress.objects.exists()


def test_conflict_mac_is_optional(v1):
    v1.create_pool(1)
    ip = v1.require("pod-1").json()["IP"]
    body = conflict_release(v1, "pod-1", ip, mac="").json()
    assert body["Code"] == 0 and "answered by another host" in body["Msg"]
    assert QuarantinedAddress.objects.get(ip=ip).conflict_mac == ""


def test_reads_show_the_quarantine(v1, client, operator_token, other_cluster_token):
    v1.create_pool(2)
    ip = v1.require("pod-1").json()["IP"]
    conflict_release(v1, "pod-1", ip)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {v1.token}"}
    (subnet,) = client.get("/v1/subnets", {"SubnetID": "subnet-a"}, **headers).json()["Results"]
    assert (subnet["Quarantined"], subnet["Reserved"], subnet["Free"]) == (1, 2, 253 - 3)
    page = client.get("/v1/quarantined-addresses", **headers).json()
    assert page["Code"] == 0 and page["Count"] == 1
    (row,) = page["Results"]
    assert row["IP"] == ip and row["State"] == "quarantined" and row["ConflictMacAddr"] == INTRUDER.lower()
    assert (row["SubnetID"], row["K8SClusterID"], row["K8SApiResourceName"], row["K8SPodID"]) == (
        "subnet-a",
        "c1",
        "web",
        "pod-1",
    )
    assert client.get("/v1/quarantined-addresses", {"IP": ip}, **headers).json()["Count"] == 1
    assert client.get("/v1/quarantined-addresses", {"SubnetID": "other"}, **headers).json()["Count"] == 0
    bad = client.get("/v1/quarantined-addresses", {"ConflictMacAddr": "nope"}, **headers)
    assert (bad.status_code, bad.json()["Code"]) == (400, 1) and "ConflictMacAddr" in bad.json()["Msg"]
    # Another cluster's token does not see this cluster's quarantine; an operator does.
    other = {"HTTP_AUTHORIZATION": f"Bearer {other_cluster_token}"}
    assert client.get("/v1/quarantined-addresses", **other).json()["Count"] == 0
    operator = {"HTTP_AUTHORIZATION": f"Bearer {operator_token}"}
    assert client.get("/v1/quarantined-addresses", **operator).json()["Count"] == 1
    # /v1/addresses lists reservations: the quarantined address is in no pool any more.
    assert ip not in [r["IP"] for r in client.get("/v1/addresses", **headers).json()["Results"]]


def test_metrics_count_quarantined_addresses_per_subnet(v1, client):
    from tests.support.ops import samples

    v1.create_pool(2)
    ip = v1.require("pod-1").json()["IP"]
    labels = (("net_regional_id", "region-1"), ("subnet_id", "subnet-a"))
    assert samples(client.get("/metrics"))[("ipresmgr_subnet_quarantined", labels)] == 0
    conflict_release(v1, "pod-1", ip)
    figures = samples(client.get("/metrics"))
    assert figures[("ipresmgr_subnet_quarantined", labels)] == 1
    assert figures[("ipresmgr_subnet_reserved", labels)] == 2


def test_list_quarantine_command(v1, capsys):
    v1.create_pool(2)
    ip = v1.require("pod-1").json()["IP"]
    call_command("list_quarantine")
    assert "no quarantined addresses" in capsys.readouterr().out
    conflict_release(v1, "pod-1", ip)
    call_command("list_quarantine", "--subnet-id", "subnet-a")
    out = capsys.readouterr().out
    assert ip in out and INTRUDER.lower() in out and "pod-1" in out and "c1/default/Deployment/web" in out
    with pytest.raises(Exception, match="not registered"):
        call_command("list_quarantine", "--subnet-id", "nope")


def test_clear_quarantine_command_refuses_what_is_not_quarantined(v1):
    from django.core.management.base import CommandError

    v1.create_pool(1)
    with pytest.raises(CommandError, match="not quarantined"):
        call_command("clear_quarantine", "--subnet-id", "subnet-a", "--ip", "10.0.3.77")
    with pytest.raises(CommandError, match="not a valid"):
        call_command("clear_quarantine", "--subnet-id", "subnet-a", "--ip", "nope")
    assert not AuditEvent.objects.filter(admin_action=AdminAction.CLEAR_QUARANTINE).exists()


def test_console_lists_and_clears_the_quarantine(admin_client, v1):
    from tests.support.admin import last_admin_event, page_messages, run_action

    v1.create_pool(2)
    ip = v1.require("pod-1").json()["IP"]
    conflict_release(v1, "pod-1", ip)
    page = admin_client.get("/admin/pools/quarantinedaddress/").content.decode()
    assert ip in page and INTRUDER.lower() in page and "pod-1" in page
    subnets = admin_client.get("/admin/pools/subnet/").content.decode()
    assert 'class="field-quarantined"' in subnets
    quarantined = QuarantinedAddress.objects.get()
    confirm = run_action(admin_client, "quarantinedaddress", "clear_quarantine", [quarantined.pk], confirm=False)
    assert "Clear quarantine" in confirm.content.decode() and QuarantinedAddress.objects.exists()
    done = run_action(admin_client, "quarantinedaddress", "clear_quarantine", [quarantined.pk], reason="VM gone")
    assert any("quarantine cleared" in m for m in page_messages(done))
    assert not QuarantinedAddress.objects.exists()
    event = last_admin_event(AdminAction.CLEAR_QUARANTINE)
    assert (event.actor, event.ip, event.pod_id, event.subnet_id) == ("admin:admin", ip, "pod-1", "subnet-a")
    assert "VM gone" in event.msg


def test_consistency_check_knows_the_quarantine(v1):
    from pools.consistency import find_violations

    v1.create_pool(2)
    ip = v1.require("pod-1").json()["IP"]
    conflict_release(v1, "pod-1", ip)
    assert find_violations() == []
    # A reservation of a quarantined address (a bypassed allocator) is found.
    quarantined = QuarantinedAddress.objects.get()
    idle = Address.objects.filter(pool=pool_of()).exclude(idle_since=None).first()
    Address.objects.filter(pk=idle.pk).update(ip=quarantined.ip, ip_key=quarantined.ip_key)
    assert [v.check for v in find_violations()] == ["quarantined_address_reserved"]


def test_dashboard_links_a_subnets_quarantined_addresses(admin_client, v1):
    v1.create_pool(2)
    ip = v1.require("pod-1").json()["IP"]
    conflict_release(v1, "pod-1", ip)
    page = admin_client.get("/admin/").content.decode()
    subnet = QuarantinedAddress.objects.get().subnet
    assert f"/admin/pools/quarantinedaddress/?subnet__id__exact={subnet.pk}" in page
    listed = admin_client.get(f"/admin/pools/quarantinedaddress/?subnet__id__exact={subnet.pk}")
    assert [q.ip for q in listed.context["cl"].result_list] == [ip]
