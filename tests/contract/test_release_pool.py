"""Release pool (/v1/ippool/release)."""

from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from pools.models import Address, Pool


def test_release_returns_idle_addresses_and_keeps_bound_ones(v1):
    v1.create_pool(4)
    ip = v1.require("pod-1").json()["IP"]
    response = v1.release_pool()
    assert response.status_code == 200
    assert response.json() == {"ReqID": "req-release-pool", "ReqType": 1, "Code": 0, "Msg": response.json()["Msg"]}
    pool = Pool.objects.get()
    assert pool.state == "released" and pool.released_at is not None
    assert list(Address.objects.values_list("ip", "lease__pod_id")) == [(ip, "pod-1")]


def test_bound_address_of_a_released_pool_goes_back_when_its_pod_releases_it(v1):
    v1.create_pool(2)
    ip = v1.require("pod-1").json()["IP"]
    v1.release_pool()
    assert v1.release("pod-1", ip).json()["Code"] == 0
    assert not Address.objects.exists()
    assert Pool.objects.get().reserved_count == 0


def test_release_of_unknown_workload_is_success(v1):
    response = v1.release_pool(name="never-created")
    assert (response.status_code, response.json()["Code"]) == (200, 0)


def test_repeated_release_is_success(v1):
    v1.create_pool(2)
    assert v1.release_pool().json()["Code"] == 0
    assert v1.release_pool().json()["Code"] == 0
    assert Pool.objects.get().state == "released"


def test_require_after_release_is_code_20(v1):
    v1.create_pool(2)
    v1.release_pool()
    response = v1.require("pod-1")
    assert (response.status_code, response.json()["Code"]) == (404, 20)


def test_grace_keeps_addresses_then_returns_them(v1, settings):
    settings.IPRESMGR_RELEASE_GRACE_SECONDS = 60
    v1.create_pool(3)
    v1.release_pool()
    assert Address.objects.count() == 3
    Pool.objects.update(released_at=timezone.now() - timedelta(seconds=61))
    call_command("purge_released_pools")
    assert not Address.objects.exists()
    assert Pool.objects.get().reserved_count == 0


def test_expired_grace_addresses_are_reused_by_other_pools(v1, settings):
    from tests.support.api import make_subnet

    settings.IPRESMGR_RELEASE_GRACE_SECONDS = 60
    make_subnet("tiny", cidr="10.9.0.0/29", gateway="10.9.0.1")
    v1.create_pool(5, subnet_id="tiny", gateway="10.9.0.1", name="old")
    v1.release_pool(name="old")
    assert v1.create_pool(1, subnet_id="tiny", gateway="10.9.0.1", name="new").json()["Code"] == 12
    Pool.objects.filter(name="old").update(released_at=timezone.now() - timedelta(seconds=61))
    assert v1.create_pool(5, subnet_id="tiny", gateway="10.9.0.1", name="new").json()["Code"] == 0
    assert Address.objects.filter(pool__name="new").count() == 5


def test_create_after_grace_expired_makes_a_new_pool(v1, settings):
    settings.IPRESMGR_RELEASE_GRACE_SECONDS = 60
    v1.create_pool(2)
    v1.release_pool()
    Pool.objects.update(released_at=timezone.now() - timedelta(seconds=61))
    assert v1.create_pool(2).json()["Code"] == 0
    assert Pool.objects.filter(state="active").count() == 1 and Pool.objects.count() == 2
    assert Address.objects.filter(pool__state="active").count() == 2
