"""The read APIs: every filter, token scoping, ordering, pagination, bad filters, subnet registration."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from pools.models import Address, Subnet
from tests.support.api import V1, make_subnet, on_postgres


def bounded_read_queries() -> int:
    """What a read adds on PostgreSQL (core/bounded_reads.py): its read slot and timeout in one statement,
    inside the test's transaction a savepoint and its release."""
    return 3 if on_postgres() else 0


def get(token: str | None, path: str, **params):
    client = APIClient()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get(path, params, **headers)


def results(response) -> list[dict]:
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["Code"] == 0 and body["ReqID"]
    return body["Results"]


@pytest.fixture
def state(v1, other_cluster_token, operator_token):
    """c1: web (Deployment, 3 addresses, pod-1 bound) and db (StatefulSet, 1 address) in subnet-a;
    c2: api in subnet-b (IPv6)."""
    make_subnet("subnet-b", "fd00:3::/64", "fd00:3::1", region="region-2")
    assert v1.create_pool(3).json()["Code"] == 0
    assert v1.create_pool(1, name="db", kind=1, namespace="data").json()["Code"] == 0
    bound = v1.require("pod-1").json()
    other = V1(other_cluster_token)
    assert other.create_pool(2, cluster="c2", name="api", subnet_id="subnet-b", gateway="fd00:3::1", region="region-2")
    assert other.require("pod-9", cluster="c2", name="api").json()["Code"] == 0
    return {"ip": bound["IP"], "mac": bound["MacAddr"], "port": bound["PortID"], "operator": operator_token}


# Scoping ---------------------------------------------------------------------------------------


def test_cluster_token_sees_only_its_own_cluster(state, cluster_token, other_cluster_token):
    assert {row["K8SClusterID"] for row in results(get(cluster_token, "/v1/pools"))} == {"c1"}
    assert {row["K8SClusterID"] for row in results(get(cluster_token, "/v1/addresses"))} == {"c1"}
    assert {row["K8SClusterID"] for row in results(get(cluster_token, "/v1/events"))} == {"c1"}
    assert {row["K8SClusterID"] for row in results(get(other_cluster_token, "/v1/pools"))} == {"c2"}


def test_cluster_token_filtering_another_cluster_gets_nothing(state, cluster_token):
    assert results(get(cluster_token, "/v1/addresses", K8SClusterID="c2")) == []


def test_operator_token_sees_all_clusters_and_admin_events(state):
    assert {row["K8SClusterID"] for row in results(get(state["operator"], "/v1/pools"))} == {"c1", "c2"}
    events = results(get(state["operator"], "/v1/events", Limit=1000))
    assert {"subnet_create", "cluster_create"} <= {row["AdminAction"] for row in events}


def test_cluster_token_sees_every_subnet(state, cluster_token):
    assert [row["SubnetID"] for row in results(get(cluster_token, "/v1/subnets"))] == ["subnet-a", "subnet-b"]


def test_reads_need_a_token(state):
    response = get(None, "/v1/pools")
    assert response.status_code == 401 and response.json()["Code"] == 2
    response = get("ipr_unknown", "/v1/events", ReqID="mine")
    assert response.status_code == 401 and response.json() == {
        "ReqID": "mine",
        "Code": 2,
        "Msg": "unknown or revoked token",
    }


# Subnets ---------------------------------------------------------------------------------------


def test_subnet_usage_figures(state, cluster_token):
    reserved = Address.objects.filter(subnet__subnet_id="subnet-a").count()
    assert reserved == 4
    rows = {row["SubnetID"]: row for row in results(get(cluster_token, "/v1/subnets"))}
    a = rows["subnet-a"]
    assert (a["Capacity"], a["Reserved"], a["Bound"], a["Free"]) == (253, 4, 1, 249)
    assert a["Gateway"] == "10.0.3.1" and a["CIDR"] == "10.0.3.0/24" and a["IPVersion"] == 4
    b = rows["subnet-b"]
    assert b["Capacity"] == 2**64 - 2 and b["Reserved"] == 2 and b["Bound"] == 1  # bigger than int64


def test_subnet_capacity_counts_exclusions(operator_token):
    make_subnet("subnet-x", "10.1.0.0/28", "10.1.0.1", exclusions=["10.1.0.2-10.1.0.5", "10.1.0.9"])
    (row,) = results(get(operator_token, "/v1/subnets", SubnetID="subnet-x"))
    assert row["Exclude"] == ["10.1.0.2-10.1.0.5", "10.1.0.9"]
    assert row["Capacity"] == 14 - 1 - 4 - 1 == row["Free"]


def test_subnet_filters(state):
    token = state["operator"]
    assert [r["SubnetID"] for r in results(get(token, "/v1/subnets", NetRegionalID="region-2"))] == ["subnet-b"]
    assert [r["SubnetID"] for r in results(get(token, "/v1/subnets", IPVersion=4))] == ["subnet-a"]
    assert [r["SubnetID"] for r in results(get(token, "/v1/subnets", Ordering="-SubnetID"))] == [
        "subnet-b",
        "subnet-a",
    ]


def test_subnet_list_costs_the_same_queries_for_many_subnets(operator_token, django_assert_max_num_queries):
    for index in range(20):
        make_subnet(f"s-{index}", f"10.2.{index}.0/24", f"10.2.{index}.1", exclusions=[f"10.2.{index}.9"])
    # token, count, page, exclusions, grants, the clusters' reserved counts
    with django_assert_max_num_queries(6 + bounded_read_queries()):
        assert len(results(get(operator_token, "/v1/subnets"))) == 20


def test_operator_registers_a_subnet_over_rest(operator_token):
    body = {
        "ReqID": "reg-1",
        "NetRegionalID": "region-9",
        "SubnetID": "subnet-rest",
        "CIDR": "10.9.0.0/24",
        "Gateway": "10.9.0.1",
        "Exclude": ["10.9.0.2-10.9.0.9"],
    }
    response = V1(operator_token).post("/v1/subnets", body)
    assert response.status_code == 200 and response.json()["Code"] == 0 and response.json()["ReqID"] == "reg-1"
    assert response.json()["Subnet"]["Capacity"] == 253 - 8
    assert Subnet.objects.get(subnet_id="subnet-rest").exclusions.count() == 1
    assert AuditEvent.objects.filter(admin_action="subnet_create", req_id="reg-1", code=0).exists()
    again = V1(operator_token).post("/v1/subnets", body)
    assert again.status_code == 200 and again.json()["Code"] == 0 and "nothing to do" in again.json()["Msg"]


def test_cluster_token_may_not_register_a_subnet(cluster_token):
    body = {"NetRegionalID": "r", "SubnetID": "s", "CIDR": "10.9.0.0/24", "Gateway": "10.9.0.1"}
    response = V1(cluster_token).post("/v1/subnets", body)
    assert response.status_code == 403 and response.json()["Code"] == 3
    assert not Subnet.objects.exists()
    assert AuditEvent.objects.filter(admin_action="subnet_create", code=3).exists()


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"CIDR": "10.9.0.1/24"}, 400, "CIDR"),
        ({"Gateway": "10.8.0.1"}, 400, "Gateway"),
        ({"Gateway": "nope"}, 400, "Gateway"),
        ({"Exclude": "10.9.0.5"}, 400, "Exclude"),
        ({"Exclude": ["10.10.0.5"]}, 400, "Exclude"),
        ({"SubnetID": 7}, 400, "SubnetID"),
        ({"CIDR": "10.9.0.0/25"}, 409, "SubnetID"),  # registered already, another definition
    ],
)
def test_bad_subnet_registration_is_code_1(operator_token, change, status, field):
    make_subnet("s", "10.9.0.0/24", "10.9.0.1", region="r")
    body = {"NetRegionalID": "r", "SubnetID": "s", "CIDR": "10.9.0.0/24", "Gateway": "10.9.0.1", **change}
    response = V1(operator_token).post("/v1/subnets", body)
    assert response.status_code == status and response.json()["Code"] == 1
    assert response.json()["Msg"].startswith(field), response.json()
    assert Subnet.objects.count() == 1


# Pools -----------------------------------------------------------------------------------------


def test_pool_rows_and_filters(state, cluster_token):
    (web,) = results(get(cluster_token, "/v1/pools", K8SApiResourceName="web"))
    assert (web["Target"], web["Reserved"], web["Bound"], web["State"]) == (3, 3, 1, "active")
    assert web["SubnetID"] == "subnet-a" and web["K8SApiResourceKind"] == 0 and web["ReleasedAt"] is None
    assert [p["K8SApiResourceName"] for p in results(get(cluster_token, "/v1/pools", K8SNamespace="data"))] == ["db"]
    assert [p["K8SApiResourceName"] for p in results(get(cluster_token, "/v1/pools", K8SApiResourceKind=1))] == ["db"]
    assert len(results(get(state["operator"], "/v1/pools", SubnetID="subnet-b"))) == 1
    assert len(results(get(state["operator"], "/v1/pools", K8SClusterID="c2"))) == 1


def test_pool_state_filter(state, v1, cluster_token):
    v1.release_pool(name="db", kind=1, namespace="data")
    (released,) = results(get(cluster_token, "/v1/pools", State="released"))
    assert released["K8SApiResourceName"] == "db" and released["ReleasedAt"]
    assert [p["K8SApiResourceName"] for p in results(get(cluster_token, "/v1/pools", State="active"))] == ["web"]


def test_pool_ordering(state, cluster_token):
    names = [p["K8SApiResourceName"] for p in results(get(cluster_token, "/v1/pools", Ordering="-Target"))]
    assert names == ["web", "db"]


# Addresses -------------------------------------------------------------------------------------


def test_address_filters(state, cluster_token):
    def ips(**params):
        return [row["IP"] for row in results(get(state["operator"], "/v1/addresses", **params))]

    assert ips(IP=state["ip"]) == [state["ip"]]
    assert ips(MacAddr=state["mac"].upper()) == [state["ip"]]
    assert ips(PortID=state["port"]) == [state["ip"]]
    assert ips(K8SPodID="pod-1") == [state["ip"]]
    assert ips(State="bound", K8SClusterID="c1") == [state["ip"]]
    assert len(ips(State="idle", K8SClusterID="c1")) == 3
    assert len(ips(K8SApiResourceKind=1)) == 1
    assert len(ips(K8SNamespace="data")) == 1
    assert len(ips(K8SApiResourceName="web")) == 3
    assert len(ips(SubnetID="subnet-b")) == 2
    assert len(ips(K8SClusterID="c2")) == 2


def test_address_ip_filter_matches_any_spelling(state):
    (row,) = results(get(state["operator"], "/v1/addresses", K8SPodID="pod-9"))
    long_form = row["IP"].replace("fd00:3::", "fd00:0003:0000:0000:0000:0000:0000:")
    assert [r["IP"] for r in results(get(state["operator"], "/v1/addresses", IP=long_form))] == [row["IP"]]


def test_address_row(state, cluster_token):
    (row,) = results(get(cluster_token, "/v1/addresses", K8SPodID="pod-1"))
    assert row["State"] == "bound" and row["K8SApiResourceID"] == "rid-1" and row["BoundAt"]
    assert row["IdleSince"] is None and row["SubnetGatewayAddr"] == "10.0.3.1" and row["PoolState"] == "active"
    idle = results(get(cluster_token, "/v1/addresses", State="idle"))[0]
    assert idle["K8SPodID"] is None and idle["IdleSince"]


def test_address_list_query_count_does_not_grow_with_rows(state, django_assert_max_num_queries):
    with django_assert_max_num_queries(3 + bounded_read_queries()):  # token, count, page
        assert len(results(get(state["operator"], "/v1/addresses"))) == 6


# Events ----------------------------------------------------------------------------------------


def test_event_filters(state, v1, cluster_token):
    v1.release("pod-1", state["ip"])

    def events(**params):
        return results(get(cluster_token, "/v1/events", **params))

    assert [e["ReqType"] for e in events(IP=state["ip"])] == [4, 3]  # newest first
    assert {e["K8SPodID"] for e in events(K8SPodID="pod-1")} == {"pod-1"}
    assert {e["ReqType"] for e in events(ReqType=0)} == {0}
    assert [e["ReqID"] for e in events(ReqID="req-require")] == ["req-require"]
    assert {e["K8SApiResourceName"] for e in events(K8SApiResourceName="db", K8SNamespace="data")} == {"db"}
    assert {e["K8SApiResourceKind"] for e in events(K8SApiResourceKind=1)} == {1}
    assert events(SubnetID="subnet-b") == []
    v1.require("pod-2", name="missing")
    assert [e["Code"] for e in events(Code=20)] == [20]


def test_event_time_range(state, cluster_token):
    now = timezone.now()
    AuditEvent.objects.filter(req_type=3).update(at=now - timezone.timedelta(hours=2))
    since = (now - timezone.timedelta(hours=3)).isoformat()
    until = (now - timezone.timedelta(hours=1)).isoformat()
    window = results(get(cluster_token, "/v1/events", Since=since, Until=until))
    assert [e["ReqType"] for e in window] == [3]
    assert all(e["ReqType"] != 3 for e in results(get(cluster_token, "/v1/events", Since=until)))


def test_event_time_with_any_offset_python_parses_is_taken(state, cluster_token):
    # PostgreSQL itself refuses offsets past +15:59; the filter hands it UTC.
    assert results(get(cluster_token, "/v1/events", Since="1179-05-07T11:26:27+21:14", K8SApiResourceKind=1))


def test_event_req_id_is_echoed(state, cluster_token):
    assert get(cluster_token, "/v1/events", ReqID="req-create").json()["ReqID"] == "req-create"


# Pagination and bad input ----------------------------------------------------------------------


def test_pagination_walks_every_row_once(state):
    token = state["operator"]
    first = get(token, "/v1/addresses", Limit=4).json()
    assert first["Count"] == 6 and len(first["Results"]) == 4 and first["Previous"] is None
    assert "Offset=4" in first["Next"] and "Limit=4" in first["Next"]
    second = APIClient().get(first["Next"], HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert len(second["Results"]) == 2 and second["Next"] is None and second["Previous"]
    seen = [row["IP"] for row in first["Results"] + second["Results"]]
    assert len(set(seen)) == 6


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/addresses", {"IP": "10.0.3.300"}, "IP"),
        ("/v1/addresses", {"IP": "10.0.3.1%s"}, "IP"),  # a % in the value is not a format string
        ("/v1/addresses", {"MacAddr": "zz:zz"}, "MacAddr"),
        ("/v1/addresses", {"MacAddr": "%d"}, "MacAddr"),
        ("/v1/addresses", {"PortID": "not-a-uuid"}, "PortID"),
        ("/v1/addresses", {"State": "busy"}, "State"),
        ("/v1/addresses", {"K8SApiResourceKind": "9"}, "K8SApiResourceKind"),
        ("/v1/addresses", {"K8SNamespace": "Not_A_Label"}, "K8SNamespace"),
        ("/v1/addresses", {"K8SPodID": "pod\x00"}, "K8SPodID"),
        ("/v1/pools", {"State": "gone"}, "State"),
        ("/v1/pools", {"K8SClusterID": "bad cluster"}, "K8SClusterID"),
        ("/v1/pools", {"Ordering": "Nope"}, "Ordering"),
        ("/v1/events", {"Since": "yesterday"}, "Since"),
        ("/v1/events", {"Until": "2026-13-01T00:00:00Z"}, "Until"),
        ("/v1/events", {"Since": "0001-01-01T00:00:00+01:00"}, "Since"),
        ("/v1/events", {"ReqType": "7"}, "ReqType"),
        ("/v1/events", {"Code": "x"}, "Code"),
        ("/v1/subnets", {"IPVersion": "5"}, "IPVersion"),
        ("/v1/subnets", {"Limit": "0"}, "Limit"),
        ("/v1/subnets", {"Limit": "1001"}, "Limit"),
        ("/v1/events", {"Offset": "-1"}, "Offset"),
        ("/v1/events", {"Offset": "99999999999999999999"}, "Offset"),
        ("/v1/pools", {"Limit": "1.5"}, "Limit"),
    ],
)
def test_bad_filter_is_code_1_naming_it(state, path, params, field):
    response = get(state["operator"], path, **params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["Code"] == 1 and body["Msg"].startswith(f"{field}:"), body


def test_read_endpoints_refuse_other_methods_in_the_envelope(state):
    response = APIClient().delete("/v1/pools", HTTP_AUTHORIZATION=f"Bearer {state['operator']}")
    assert response.status_code == 405 and response.json()["Code"] == 1
    response = APIClient().put("/v1/subnets", {}, format="json", HTTP_AUTHORIZATION=f"Bearer {state['operator']}")
    assert response.status_code == 405 and response.json()["Code"] == 1


def test_post_to_a_read_list_is_405_whatever_the_body(state):
    for path in ("/v1/pools", "/v1/addresses", "/v1/events"):
        response = APIClient().generic(
            "POST", path, b"not json", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {state['operator']}"
        )
        assert response.status_code == 405 and response.json()["Code"] == 1, path
