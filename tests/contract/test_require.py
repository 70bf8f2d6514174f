"""Require IP (/v1/ip/require)."""

from pools.models import Address, Pool
from tests.support.api import lease_of, make_subnet

STATEFULSET, JOB, CRONJOB = 1, 2, 3


def test_require_answers_ip_mac_port_id_and_gateway(v1):
    v1.create_pool(2)
    response = v1.require("pod-1", resource_id="deploy-uid")
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"ReqID", "IP", "MacAddr", "PortID", "SubnetGatewayAddr", "SubnetCIDR", "Code", "Msg"}
    assert body["SubnetCIDR"] == "10.0.3.0/24"
    address = Address.objects.get(ip=body["IP"])
    assert (body["MacAddr"], body["PortID"], body["SubnetGatewayAddr"]) == (
        address.mac,
        str(address.port_id),
        "10.0.3.1",
    )
    lease = lease_of(address.ip)
    assert (lease.pod_id, lease.k8s_resource_id) == ("pod-1", "deploy-uid")
    assert lease.bound_at is not None and address.idle_since is None


def test_require_retry_returns_same_address(v1):
    v1.create_pool(3)
    first = v1.require("pod-1").json()
    again = v1.require("pod-1").json()
    keys = ("Code", "IP", "MacAddr", "PortID", "SubnetGatewayAddr")
    assert [first[k] for k in keys] == [again[k] for k in keys] and first["Code"] == 0
    assert Address.objects.filter(lease__pod_id="pod-1").count() == 1


def test_distinct_pods_get_distinct_addresses(v1):
    v1.create_pool(3)
    ips = {v1.require(f"pod-{i}").json()["IP"] for i in range(3)}
    assert len(ips) == 3


def test_the_address_idle_longest_is_bound_first(v1):
    v1.create_pool(3)
    ips = [v1.require(f"pod-{i}").json()["IP"] for i in range(3)]
    for i in (2, 0, 1):
        assert v1.release(f"pod-{i}", ips[i]).json()["Code"] == 0
    order = [v1.require(f"new-{n}").json()["IP"] for n in range(3)]
    assert order == [ips[2], ips[0], ips[1]]


def test_a_just_freed_address_is_handed_out_last(v1):
    v1.create_pool(3)
    ip = v1.require("pod-1").json()["IP"]
    v1.release("pod-1", ip)
    others = [v1.require(f"pod-{n}").json()["IP"] for n in (2, 3)]
    assert ip not in others
    assert v1.require("pod-4").json()["IP"] == ip


def test_deployment_may_surge_over_its_target(v1):
    v1.create_pool(4)  # surge ceil(4 * 25%) = 1
    ips = [v1.require(f"pod-{i}").json() for i in range(5)]
    assert all(r["Code"] == 0 for r in ips)
    pool = Pool.objects.get()
    assert pool.reserved_count == 5 and pool.target == 4
    response = v1.require("pod-6")
    assert (response.status_code, response.json()["Code"]) == (409, 30)
    assert response.json()["IP"] == ""


def test_surge_is_at_least_one(v1):
    v1.create_pool(1)
    assert v1.require("pod-1").json()["Code"] == 0
    assert v1.require("pod-2").json()["Code"] == 0
    assert v1.require("pod-3").json()["Code"] == 30


def test_surge_follows_the_configured_percent(v1, settings):
    settings.IPRESMGR_SURGE_PERCENT = 50
    v1.create_pool(4)  # surge 2
    results = [v1.require(f"pod-{i}").json()["Code"] for i in range(7)]
    assert results == [0, 0, 0, 0, 0, 0, 30]


def test_job_and_cronjob_surge_too(v1):
    for kind in (JOB, CRONJOB):
        v1.create_pool(1, kind=kind, name=f"w{kind}")
        codes = [v1.require(f"pod-{kind}-{i}", kind=kind, name=f"w{kind}").json()["Code"] for i in range(3)]
        assert codes == [0, 0, 30]


def test_statefulset_has_no_surge(v1):
    v1.create_pool(2, kind=STATEFULSET, name="db")
    codes = [v1.require(f"db-{i}", kind=STATEFULSET, name="db").json()["Code"] for i in range(3)]
    assert codes == [0, 0, 30]
    assert Address.objects.count() == 2


def test_surge_with_no_room_in_the_subnet_is_code_12(v1):
    make_subnet("tiny", cidr="10.9.0.0/29", gateway="10.9.0.1")  # 5 usable
    v1.create_pool(4, subnet_id="tiny", gateway="10.9.0.1", name="a")
    v1.create_pool(1, subnet_id="tiny", gateway="10.9.0.1", name="b")
    codes = [v1.require(f"pod-{i}", name="a").json()["Code"] for i in range(5)]
    assert codes == [0, 0, 0, 0, 12]


def test_surge_address_goes_back_to_the_subnet_on_release(v1):
    v1.create_pool(2)
    leases = [v1.require(f"pod-{i}").json()["IP"] for i in range(3)]
    assert Pool.objects.get().reserved_count == 3
    v1.release("pod-0", leases[0])
    pool = Pool.objects.get()
    assert pool.reserved_count == 2 and Address.objects.count() == 2
    assert not Address.objects.filter(ip=leases[0]).exists()


def test_require_without_pool_is_code_20(v1):
    response = v1.require("pod-1", name="nothing")
    assert (response.status_code, response.json()["Code"]) == (404, 20)
    assert set(response.json()) == {
        "ReqID",
        "IP",
        "MacAddr",
        "PortID",
        "SubnetGatewayAddr",
        "SubnetCIDR",
        "Code",
        "Msg",
    }


def test_kind_is_part_of_the_workload(v1):
    v1.create_pool(1, kind=0, name="web")
    assert v1.require("pod-1", kind=STATEFULSET, name="web").json()["Code"] == 20


def test_zero_replica_statefulset_has_nothing_to_give(v1):
    v1.create_pool(0, kind=STATEFULSET, name="db")
    assert v1.require("db-0", kind=STATEFULSET, name="db").json()["Code"] == 30
