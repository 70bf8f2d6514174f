"""Which cluster may use which subnet, and how much of it: grants, quotas, closed subnets, over the
/v1 API as the webhook and the CNI plugin call it, and as operators set them."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.choices import AdminAction
from pools import services
from pools.models import Address, Pool, Subnet, SubnetGrant
from tests.support.api import V1, command_ctx, make_subnet

NOT_GRANTED = "K8SClusterID: cluster 'c2' may not use subnet subnet-a; an operator must grant it"


def grant(subnet_id: str, cluster_id: str, quota: int | None = None) -> None:
    subnet = Subnet.objects.get(subnet_id=subnet_id)
    services.subnet_grant(ctx=command_ctx(AdminAction.SUBNET_GRANT), subnet=subnet, cluster_id=cluster_id, quota=quota)


def revoke(subnet_id: str, cluster_id: str) -> None:
    subnet = Subnet.objects.get(subnet_id=subnet_id)
    services.subnet_revoke(ctx=command_ctx(AdminAction.SUBNET_REVOKE), subnet=subnet, cluster_id=cluster_id)


def refused(response, status: int, code: int, msg_start: str) -> dict:
    body = response.json()
    assert (response.status_code, body["Code"]) == (status, code), body
    assert body["Msg"].startswith(msg_start), body["Msg"]
    return body


def reserved_by(cluster_id: str) -> int:
    return Address.objects.filter(pool__k8s_cluster_id=cluster_id).count()


@pytest.fixture
def c1(cluster_token, subnet) -> V1:
    return V1(cluster_token)


@pytest.fixture
def c2(other_cluster_token, subnet) -> V1:
    return V1(other_cluster_token)


def c2_create(c2: V1, replicas=2, **kwargs):
    return c2.create_pool(replicas, cluster="c2", **kwargs)


# Grants ----------------------------------------------------------------------------------------


def test_a_subnet_without_grants_serves_every_cluster(c1, c2):
    assert c1.create_pool(2).json()["Code"] == 0
    assert c2_create(c2).json()["Code"] == 0


def test_create_by_a_cluster_not_granted_is_code_3_naming_the_subnet_and_reserves_nothing(c1, c2):
    grant("subnet-a", "c1")
    assert c1.create_pool(2).json()["Code"] == 0
    body = refused(c2_create(c2), 403, 3, NOT_GRANTED)
    assert body["ReqType"] == 0
    assert not Pool.objects.filter(k8s_cluster_id="c2").exists() and reserved_by("c2") == 0
    event = AuditEvent.objects.get(k8s_cluster_id="c2", code=3)
    assert event.subnet_id == "subnet-a" and event.msg == body["Msg"]


def test_a_new_pool_of_zero_replicas_by_a_cluster_not_granted_is_code_3(c1, c2):
    grant("subnet-a", "c1")
    refused(c2_create(c2, 0), 403, 3, NOT_GRANTED)
    assert not Pool.objects.filter(k8s_cluster_id="c2").exists()


def test_after_a_grant_is_withdrawn_the_pool_keeps_working_but_cannot_grow(c1, c2):
    grant("subnet-a", "c1")
    grant("subnet-a", "c2")
    assert c2_create(c2, 2).json()["Code"] == 0
    revoke("subnet-a", "c2")
    # Binding idle addresses and releasing them go on.
    first = c2.require("pod-1", cluster="c2").json()
    assert first["Code"] == 0 and first["IP"]
    assert c2.require("pod-2", cluster="c2").json()["Code"] == 0
    assert c2.release("pod-1", first["IP"], cluster="c2").json()["Code"] == 0
    assert c2.require("pod-3", cluster="c2").json()["IP"] == first["IP"]
    # Growth is refused: a surge, a scale up, a repeated create with more replicas.
    refused(c2.require("pod-4", cluster="c2"), 403, 3, NOT_GRANTED)
    refused(c2.scale_pool(5, 2, cluster="c2"), 403, 3, NOT_GRANTED)
    refused(c2_create(c2, 4), 403, 3, NOT_GRANTED)
    assert Pool.objects.get(k8s_cluster_id="c2").reserved_count == reserved_by("c2") == 2
    # A repeated create of the same size, a shrink and a release need no growth.
    assert c2_create(c2, 2).json()["Code"] == 0
    assert c2.scale_pool(1, 2, cluster="c2").json()["Code"] == 0
    assert c2.release_pool(cluster="c2").json()["Code"] == 0


def test_withdrawing_the_last_grant_does_not_open_the_subnet(c1, c2):
    grant("subnet-a", "c1")
    revoke("subnet-a", "c1")
    assert not Subnet.objects.get(subnet_id="subnet-a").open_without_grants
    refused(c1.create_pool(1), 403, 3, "K8SClusterID: cluster 'c1' may not use subnet subnet-a")
    refused(c2_create(c2), 403, 3, NOT_GRANTED)


def test_the_check_is_the_workloads_cluster_whoever_calls(c1, operator_token):
    grant("subnet-a", "c1")
    make_subnet("subnet-b", "10.0.4.0/24", "10.0.4.1")
    grant("subnet-b", "c1")
    operator = V1(operator_token)
    refused(operator.create_pool(1, cluster="c9"), 403, 3, "K8SClusterID: cluster 'c9' may not use subnet subnet-a")
    assert operator.create_pool(1, cluster="c1").json()["Code"] == 0


def test_subnets_closed_by_default_serve_no_cluster_until_granted(c1, settings):
    settings.IPRESMGR_SUBNETS_OPEN_BY_DEFAULT = False
    make_subnet("subnet-b", "10.0.4.0/24", "10.0.4.1")
    closed = {"subnet_id": "subnet-b", "gateway": "10.0.4.1"}
    refused(c1.create_pool(1, **closed), 403, 3, "K8SClusterID: cluster 'c1' may not use subnet subnet-b")
    assert c1.create_pool(1).json()["Code"] == 0  # subnet-a was registered before: still open
    grant("subnet-b", "c1")
    assert c1.create_pool(1, name="api", **closed).json()["Code"] == 0


# Quotas ----------------------------------------------------------------------------------------


QUOTA_MSG = "quota of cluster 'c1' in subnet subnet-a is 5 addresses"


def test_growth_past_the_quota_is_code_12_naming_the_quota(c1):
    grant("subnet-a", "c1", quota=5)
    assert c1.create_pool(3).json()["Code"] == 0
    body = refused(c1.create_pool(3, name="api"), 409, 12, QUOTA_MSG)
    assert body["Msg"] == f"{QUOTA_MSG}; 3 reserved, 3 more needed; nothing reserved"
    assert reserved_by("c1") == 3 and not Pool.objects.filter(name="api").exists()
    refused(c1.scale_pool(6, 3), 409, 12, QUOTA_MSG)
    assert c1.scale_pool(5, 3).json()["Code"] == 0  # exactly the quota
    assert reserved_by("c1") == 5


def test_a_surge_past_the_quota_is_code_12(c1):
    grant("subnet-a", "c1", quota=2)
    assert c1.create_pool(2).json()["Code"] == 0
    assert c1.require("pod-1").json()["Code"] == 0
    assert c1.require("pod-2").json()["Code"] == 0
    refused(c1.require("pod-3"), 409, 12, "quota of cluster 'c1' in subnet subnet-a is 2 addresses")


def test_the_quota_counts_every_pool_of_the_cluster_in_the_subnet_and_no_other(c1, c2):
    grant("subnet-a", "c1", quota=4)
    grant("subnet-a", "c2")
    make_subnet("subnet-b", "10.0.4.0/24", "10.0.4.1")
    assert c1.create_pool(2).json()["Code"] == 0
    assert c1.create_pool(2, name="db", kind=1).json()["Code"] == 0
    assert c1.create_pool(10, name="other", subnet_id="subnet-b", gateway="10.0.4.1").json()["Code"] == 0
    assert c2_create(c2, 20).json()["Code"] == 0
    refused(
        c1.create_pool(1, name="api"), 409, 12, "quota of cluster 'c1' in subnet subnet-a is 4 addresses; 4 reserved"
    )


def test_a_quota_lowered_below_use_refuses_growth_only(c1):
    grant("subnet-a", "c1", quota=10)
    assert c1.create_pool(6).json()["Code"] == 0
    grant("subnet-a", "c1", quota=4)
    assert c1.require("pod-1").json()["Code"] == 0
    refused(c1.scale_pool(7, 6), 409, 12, "quota of cluster 'c1' in subnet subnet-a is 4 addresses; 6 reserved")
    assert c1.scale_pool(3, 6).json()["Code"] == 0
    assert reserved_by("c1") == 3
    event = AuditEvent.objects.filter(admin_action=AdminAction.SUBNET_GRANT).latest("id")
    assert "a quota of 10 addresses -> a quota of 4 addresses" in event.msg
    assert "reserves 6 here already" in event.msg


# Registering and changing access over REST -------------------------------------------------------


def register(token, **body):
    base = {"ReqID": "reg", "NetRegionalID": "region-1", "SubnetID": "subnet-b", "CIDR": "10.0.4.0/24"}
    return V1(token).post("/v1/subnets", {**base, "Gateway": "10.0.4.1", **body})


def get_subnets(token, **params) -> list[dict]:
    response = APIClient().get("/v1/subnets", params, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.json()
    return response.json()["Results"]


def test_operator_registers_a_subnet_with_grants_and_quotas(c1, c2, operator_token):
    response = register(operator_token, Grants=[{"K8SClusterID": "c1", "Quota": 3}, {"K8SClusterID": "c2"}])
    body = response.json()
    assert response.status_code == 200 and body["Code"] == 0, body
    assert body["Msg"] == (
        "subnet registered; cluster c1 granted subnet subnet-b with a quota of 3 addresses; "
        "cluster c2 granted subnet subnet-b with no quota"
    )
    assert body["Subnet"]["OpenWithoutGrants"] is False
    assert body["Subnet"]["Clusters"] == [
        {"K8SClusterID": "c1", "Granted": True, "Quota": 3, "Reserved": 0},
        {"K8SClusterID": "c2", "Granted": True, "Quota": None, "Reserved": 0},
    ]
    assert dict(SubnetGrant.objects.values_list("cluster__cluster_id", "quota")) == {"c1": 3, "c2": None}
    events = AuditEvent.objects.filter(admin_action=AdminAction.SUBNET_GRANT, req_id="reg").order_by("id")
    assert [(e.k8s_cluster_id, e.subnet_id, e.actor[:14]) for e in events] == [
        ("c1", "subnet-b", "operator token"),
        ("c2", "subnet-b", "operator token"),
    ]


def test_registering_again_with_other_grants_changes_only_the_access(c1, c2, operator_token):
    register(operator_token, Grants=[{"K8SClusterID": "c1", "Quota": 3}, {"K8SClusterID": "c2"}])
    body = register(operator_token, Grants=[{"K8SClusterID": "c1", "Quota": 5}]).json()
    assert body["Code"] == 0
    assert body["Msg"] == (
        "subnet already registered with this definition; access changed; grant of subnet subnet-b to cluster c2 "
        "withdrawn; its pools keep the 0 addresses they reserve here, growth is refused; cluster c1 in subnet "
        "subnet-b: a quota of 3 addresses -> a quota of 5 addresses"
    )
    assert AuditEvent.objects.filter(admin_action=AdminAction.SUBNET_REVOKE, k8s_cluster_id="c2").count() == 1
    again = register(operator_token, Grants=[{"K8SClusterID": "c1", "Quota": 5}]).json()
    assert again["Msg"] == "subnet already registered with this definition; nothing to do"
    # Without Grants the access list stays as it is.
    assert register(operator_token).json()["Subnet"]["Clusters"][0]["Quota"] == 5
    # An empty list withdraws every grant, and the subnet stays closed until opened explicitly.
    closed = register(operator_token, Grants=[]).json()["Subnet"]
    assert closed["Clusters"] == [] and closed["OpenWithoutGrants"] is False
    opened = register(operator_token, OpenWithoutGrants=True).json()
    assert opened["Subnet"]["OpenWithoutGrants"] is True
    assert AuditEvent.objects.get(admin_action=AdminAction.SUBNET_ACCESS).msg == (
        "subnet subnet-b open to every cluster while none is granted"
    )


def test_a_new_subnet_can_be_registered_closed(operator_token, c1):
    body = register(operator_token, OpenWithoutGrants=False).json()
    assert body["Code"] == 0 and body["Subnet"]["OpenWithoutGrants"] is False
    refused(c1.create_pool(1, subnet_id="subnet-b", gateway="10.0.4.1"), 403, 3, "K8SClusterID: cluster 'c1'")


@pytest.mark.parametrize(
    ("body", "msg"),
    [
        ({"Grants": [{"K8SClusterID": "nobody"}]}, "Grants: cluster 'nobody' is not registered"),
        ({"Grants": [{"K8SClusterID": "c1"}, {"K8SClusterID": "c1"}]}, "Grants: cluster 'c1' is listed twice"),
        ({"Grants": [{"K8SClusterID": "c1", "Quota": -1}]}, "Grants: 0: Quota: Ensure this value is greater"),
        ({"Grants": [{"K8SClusterID": "c1", "Quota": "5"}]}, "Grants: 0: Quota: must be a JSON integer"),
        ({"Grants": [{"Quota": 5}]}, "Grants: 0: K8SClusterID: This field is required."),
        ({"Grants": {"K8SClusterID": "c1"}}, "Grants: Expected a list"),
        ({"OpenWithoutGrants": "yes"}, "OpenWithoutGrants: must be a JSON bool"),
        (
            {"Grants": [{"K8SClusterID": "c1"}], "OpenWithoutGrants": True},
            "OpenWithoutGrants: must not be true when Grants lists clusters",
        ),
    ],
)
def test_bad_grants_are_code_1_and_change_nothing(c1, operator_token, body, msg):
    refused(register(operator_token, **body), 400, 1, msg)
    assert not Subnet.objects.filter(subnet_id="subnet-b").exists()
    assert not SubnetGrant.objects.exists()


def test_a_cluster_token_may_not_grant(c1, cluster_token):
    refused(register(cluster_token, Grants=[{"K8SClusterID": "c1"}]), 403, 3, "only an operator token")
    assert not SubnetGrant.objects.exists()


@pytest.mark.parametrize(
    ("cidr", "gateway", "shortest"),
    [("0.0.0.0/0", "0.0.0.1", "IPv4 prefix shorter than /8"), ("10.0.0.0/7", "10.0.0.1", "IPv4 prefix shorter than /8")]
    + [("::/0", "::1", "IPv6 prefix shorter than /32"), ("fd00::/31", "fd00::1", "IPv6 prefix shorter than /32")],
)
def test_absurdly_large_networks_are_refused(operator_token, cidr, gateway, shortest):
    body = refused(register(operator_token, CIDR=cidr, Gateway=gateway), 400, 1, f"CIDR: {cidr} is far too large")
    assert shortest in body["Msg"] and "console" in body["Msg"]
    assert not Subnet.objects.exists()


@pytest.mark.parametrize(("cidr", "gateway"), [("10.0.0.0/8", "10.0.0.1"), ("fd00::/32", "fd00::1")])
def test_the_largest_plausible_networks_are_accepted(operator_token, cidr, gateway):
    body = register(operator_token, CIDR=cidr, Gateway=gateway).json()
    assert body["Code"] == 0, body


# Seeing access -------------------------------------------------------------------------------


def test_operator_sees_grants_quotas_and_every_clusters_use(c1, c2, operator_token):
    make_subnet("subnet-b", "10.0.4.0/24", "10.0.4.1")
    assert c1.create_pool(3).json()["Code"] == 0
    assert c2_create(c2, 2).json()["Code"] == 0
    grant("subnet-a", "c1", quota=10)  # c2 keeps its pool without a grant
    rows = {row["SubnetID"]: row for row in get_subnets(operator_token)}
    assert rows["subnet-a"]["OpenWithoutGrants"] is False
    assert rows["subnet-a"]["Clusters"] == [
        {"K8SClusterID": "c1", "Granted": True, "Quota": 10, "Reserved": 3},
        {"K8SClusterID": "c2", "Granted": False, "Quota": None, "Reserved": 2},
    ]
    assert rows["subnet-b"]["OpenWithoutGrants"] is True and rows["subnet-b"]["Clusters"] == []


def test_a_cluster_sees_only_the_subnets_it_may_use_with_its_own_use(c1, c2, cluster_token, other_cluster_token):
    make_subnet("subnet-b", "10.0.4.0/24", "10.0.4.1")
    make_subnet("subnet-c", "10.0.5.0/24", "10.0.5.1")
    assert c1.create_pool(3).json()["Code"] == 0
    assert c2_create(c2, 2).json()["Code"] == 0
    grant("subnet-a", "c1", quota=10)
    grant("subnet-c", "c2")
    mine = get_subnets(cluster_token)
    assert [row["SubnetID"] for row in mine] == ["subnet-a", "subnet-b"]
    assert mine[0]["Clusters"] == [{"K8SClusterID": "c1", "Granted": True, "Quota": 10, "Reserved": 3}]
    assert mine[1]["Clusters"] == [{"K8SClusterID": "c1", "Granted": False, "Quota": None, "Reserved": 0}]
    theirs = get_subnets(other_cluster_token)  # c2 lost subnet-a (its pool stays), was granted subnet-c
    assert [row["SubnetID"] for row in theirs] == ["subnet-b", "subnet-c"]
    assert all(len(row["Clusters"]) == 1 and row["Clusters"][0]["K8SClusterID"] == "c2" for row in theirs)


def test_a_cluster_sees_the_changes_of_its_grants_in_its_events(c1, cluster_token):
    grant("subnet-a", "c1", quota=5)
    revoke("subnet-a", "c1")
    response = APIClient().get("/v1/events", {"K8SClusterID": "c1"}, HTTP_AUTHORIZATION=f"Bearer {cluster_token}")
    actions = [row["AdminAction"] for row in response.json()["Results"]]
    assert actions[:2] == ["subnet_revoke", "subnet_grant"]
