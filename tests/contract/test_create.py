"""Create pool (/v1/ippool/create): SPEC.md, Operations, and the codes it can give."""

import ipaddress
import re
import uuid

import pytest

from pools.models import Address, Pool
from tests.support.api import GATEWAY, holder, make_subnet

MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")


def test_create_reserves_replicas_addresses_in_the_subnet(v1):
    response = v1.create_pool(5)
    assert response.status_code == 200
    assert response.json() == {"ReqID": "req-create", "ReqType": 0, "Code": 0, "Msg": response.json()["Msg"]}
    pool = Pool.objects.get()
    assert (pool.target, pool.reserved_count, pool.state) == (5, 5, "active")
    addresses = list(Address.objects.filter(pool=pool))
    assert len(addresses) == 5
    assert all(holder(a.ip) is None and a.idle_since is not None for a in addresses)
    network = ipaddress.ip_network("10.0.3.0/24")
    for address in addresses:
        ip = ipaddress.ip_address(address.ip)
        assert ip in network and ip not in (network.network_address, network.broadcast_address)
        assert address.ip != GATEWAY


def test_addresses_have_local_unicast_macs_and_uuid_port_ids(v1):
    v1.create_pool(20)
    macs = [a.mac for a in Address.objects.all()]
    assert len(set(macs)) == 20
    for mac in macs:
        assert MAC.match(mac)
        first = int(mac[:2], 16)
        assert first & 0b10 and not first & 0b1  # locally administered, unicast
    for address in Address.objects.all():
        assert uuid.UUID(str(address.port_id))


def test_repeated_create_is_harmless(v1):
    assert v1.create_pool(3).json()["Code"] == 0
    assert v1.create_pool(3).json()["Code"] == 0
    assert Pool.objects.count() == 1
    assert Address.objects.count() == 3


def test_create_again_with_other_replicas_sets_the_new_target(v1):
    v1.create_pool(3)
    first_ips = set(Address.objects.values_list("ip", flat=True))
    assert v1.create_pool(6).json()["Code"] == 0
    assert Pool.objects.get().target == 6 and Address.objects.count() == 6
    assert first_ips <= set(Address.objects.values_list("ip", flat=True))
    assert v1.create_pool(2).json()["Code"] == 0
    assert Pool.objects.get().target == 2 and Address.objects.count() == 2


def test_zero_replicas_makes_an_empty_active_pool(v1):
    assert v1.create_pool(0).json()["Code"] == 0
    pool = Pool.objects.get()
    assert pool.target == 0 and pool.is_active and not Address.objects.exists()


def test_unknown_subnet_is_code_10(v1):
    response = v1.create_pool(3, subnet_id="nope")
    assert (response.status_code, response.json()["Code"]) == (404, 10)
    assert "SubnetID" in response.json()["Msg"]
    assert not Pool.objects.exists()


def test_subnet_registered_under_another_region_is_code_10(v1):
    response = v1.create_pool(3, region="region-2")
    assert (response.status_code, response.json()["Code"]) == (404, 10)


def test_gateway_mismatch_is_code_11(v1):
    response = v1.create_pool(3, gateway="10.0.3.254")
    assert (response.status_code, response.json()["Code"]) == (409, 11)
    assert "SubnetGatewayAddr" in response.json()["Msg"]
    assert not Pool.objects.exists() and not Address.objects.exists()


def test_gateway_compared_as_an_address_not_as_text(v1):
    make_subnet("subnet-v6", cidr="fd00:1::/64", gateway="fd00:1::1")
    response = v1.create_pool(2, subnet_id="subnet-v6", gateway="fd00:1:0:0:0:0:0:1")
    assert response.json()["Code"] == 0


def test_too_few_free_addresses_is_code_12_and_reserves_nothing(v1):
    make_subnet("tiny", cidr="10.9.0.0/29", gateway="10.9.0.1")  # 5 usable besides the gateway
    response = v1.create_pool(6, subnet_id="tiny", gateway="10.9.0.1")
    assert (response.status_code, response.json()["Code"]) == (409, 12)
    assert not Pool.objects.exists() and not Address.objects.exists()
    assert v1.create_pool(5, subnet_id="tiny", gateway="10.9.0.1").json()["Code"] == 0


def test_pools_never_share_an_address(v1):
    make_subnet("small", cidr="10.8.0.0/28", gateway="10.8.0.1")  # 13 usable
    assert v1.create_pool(7, subnet_id="small", gateway="10.8.0.1", name="a").json()["Code"] == 0
    assert v1.create_pool(6, subnet_id="small", gateway="10.8.0.1", name="b").json()["Code"] == 0
    assert v1.create_pool(1, subnet_id="small", gateway="10.8.0.1", name="c").json()["Code"] == 12
    ips = list(Address.objects.values_list("ip", flat=True))
    assert len(ips) == len(set(ips)) == 13


def test_active_pool_in_another_subnet_is_code_21(v1):
    make_subnet("subnet-b", cidr="10.0.4.0/24", gateway="10.0.4.1")
    v1.create_pool(2)
    response = v1.create_pool(2, subnet_id="subnet-b", gateway="10.0.4.1")
    assert (response.status_code, response.json()["Code"]) == (409, 21)
    assert Pool.objects.count() == 1 and Address.objects.count() == 2


def test_excluded_addresses_are_never_reserved(v1):
    make_subnet("ex", cidr="10.7.0.0/28", gateway="10.7.0.1", exclusions=["10.7.0.2-10.7.0.5", "10.7.0.9"])
    assert v1.create_pool(8, subnet_id="ex", gateway="10.7.0.1").json()["Code"] == 0
    ips = {str(ip) for ip in Address.objects.values_list("ip", flat=True)}
    assert ips == {"10.7.0.6", "10.7.0.7", "10.7.0.8", "10.7.0.10", "10.7.0.11", "10.7.0.12", "10.7.0.13", "10.7.0.14"}
    assert v1.create_pool(1, subnet_id="ex", gateway="10.7.0.1", name="other").json()["Code"] == 12


def test_ipv6_slash_64_works_without_enumerating_it(v1):
    make_subnet("v6", cidr="fd00:5::/64", gateway="fd00:5::1")
    assert v1.create_pool(50, subnet_id="v6", gateway="fd00:5::1").json()["Code"] == 0
    ips = [ipaddress.ip_address(ip) for ip in Address.objects.values_list("ip", flat=True)]
    assert len(set(ips)) == 50
    assert all(ip in ipaddress.ip_network("fd00:5::/64") for ip in ips)
    assert ipaddress.ip_address("fd00:5::") not in ips and ipaddress.ip_address("fd00:5::1") not in ips
    lease = v1.require("pod-1", name="web").json()
    assert lease["Code"] == 0 and lease["SubnetGatewayAddr"] == "fd00:5::1"
    assert lease["SubnetCIDR"] == "fd00:5::/64"


@pytest.mark.parametrize("grace", [30])
def test_recreate_within_release_grace_gets_the_same_addresses(v1, settings, grace):
    settings.IPRESMGR_RELEASE_GRACE_SECONDS = grace
    v1.create_pool(3)
    before = set(Address.objects.values_list("ip", "mac", "port_id"))
    assert v1.release_pool().json()["Code"] == 0
    assert Address.objects.count() == 3  # kept during the grace
    assert v1.require("pod-1").json()["Code"] == 20  # but the pool is not active
    assert v1.create_pool(3).json()["Code"] == 0
    assert set(Address.objects.values_list("ip", "mac", "port_id")) == before
    assert Pool.objects.filter(state="active").count() == 1


def test_without_grace_a_recreated_pool_is_new(v1):
    v1.create_pool(3)
    v1.release_pool()
    assert not Address.objects.exists()
    assert v1.create_pool(3).json()["Code"] == 0
    assert Pool.objects.count() == 2 and Pool.objects.filter(state="active").count() == 1
