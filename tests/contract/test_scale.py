"""Scale pool (/v1/ippool/scale)."""

from pools.models import Address, Pool
from tests.support.api import make_subnet


def test_growing_reserves_more_addresses(v1):
    v1.create_pool(2)
    response = v1.scale_pool(5, old=2)
    assert response.status_code == 200
    assert response.json() == {"ReqID": "req-scale", "ReqType": 2, "Code": 0, "Msg": response.json()["Msg"]}
    assert Pool.objects.get().target == 5 and Address.objects.count() == 5


def test_old_replicas_is_recorded_not_trusted(v1):
    v1.create_pool(2)
    assert v1.scale_pool(4, old=99).json()["Code"] == 0
    assert Pool.objects.get().target == 4 and Address.objects.count() == 4


def test_shrinking_returns_idle_addresses_at_once(v1):
    v1.create_pool(5)
    assert v1.scale_pool(2, old=5).json()["Code"] == 0
    pool = Pool.objects.get()
    assert pool.target == 2 and pool.reserved_count == 2 and Address.objects.count() == 2


def test_shrinking_keeps_bound_addresses_until_their_pods_release_them(v1):
    v1.create_pool(3)
    ips = [v1.require(f"pod-{i}").json()["IP"] for i in range(3)]
    assert v1.scale_pool(1, old=3).json()["Code"] == 0
    assert Address.objects.count() == 3  # all bound
    v1.release("pod-0", ips[0])
    v1.release("pod-1", ips[1])
    assert set(Address.objects.values_list("ip", flat=True)) == {ips[2]}
    assert Pool.objects.get().reserved_count == 1
    v1.release("pod-2", ips[2])
    assert Address.objects.filter(lease__isnull=True).count() == 1  # at target: kept, idle


def test_scale_to_zero_is_valid(v1):
    v1.create_pool(3)
    assert v1.scale_pool(0, old=3).json()["Code"] == 0
    assert Pool.objects.get().target == 0 and not Address.objects.exists()


def test_scale_without_active_pool_is_code_20(v1):
    response = v1.scale_pool(3)
    assert (response.status_code, response.json()["Code"]) == (404, 20)
    v1.create_pool(1)
    v1.release_pool()
    assert v1.scale_pool(3).json()["Code"] == 20


def test_growing_past_the_subnet_is_code_12_and_changes_nothing(v1):
    make_subnet("tiny", cidr="10.9.0.0/29", gateway="10.9.0.1")
    v1.create_pool(2, subnet_id="tiny", gateway="10.9.0.1")
    before = set(Address.objects.values_list("ip", flat=True))
    response = v1.scale_pool(9, old=2)
    assert (response.status_code, response.json()["Code"]) == (409, 12)
    assert Pool.objects.get().target == 2
    assert set(Address.objects.values_list("ip", flat=True)) == before
