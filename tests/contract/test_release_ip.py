"""Release IP (/v1/ip/release)."""

from audit.models import AuditEvent
from pools.models import Address
from tests.support.api import holder, lease_of


def test_release_makes_the_address_idle(v1):
    v1.create_pool(2)
    ip = v1.require("pod-1").json()["IP"]
    response = v1.release("pod-1", ip)
    assert response.status_code == 200
    assert set(response.json()) == {"ReqID", "Code", "Msg"} and response.json()["Code"] == 0
    address = Address.objects.get(ip=ip)
    assert holder(address.ip) is None and address.idle_since is not None and lease_of(address.ip) is None


def test_release_by_other_pod_is_refused(v1):
    v1.create_pool(2)
    ip = v1.require("pod-1").json()["IP"]
    response = v1.release("pod-stale", ip)
    assert (response.status_code, response.json()["Code"]) == (409, 31)
    assert holder(ip) == "pod-1"
    assert AuditEvent.objects.filter(code=31, pod_id="pod-stale", ip=ip).exists()


def test_release_when_nothing_is_bound_is_success(v1):
    v1.create_pool(2)
    idle_ip = Address.objects.first().ip
    assert v1.release("pod-1", idle_ip).json()["Code"] == 0  # idle address
    assert v1.release("pod-1", "10.0.3.200").json()["Code"] == 0  # never reserved
    assert v1.release("pod-1").json()["Code"] == 0  # empty IP, pod holds nothing
    assert v1.release("pod-1", name="no-such-workload").json()["Code"] == 0  # no pool at all
    assert Address.objects.filter(lease__isnull=True).count() == 2


def test_repeated_release_is_success(v1):
    v1.create_pool(1)
    ip = v1.require("pod-1").json()["IP"]
    assert v1.release("pod-1", ip).json()["Code"] == 0
    assert v1.release("pod-1", ip).json()["Code"] == 0
    assert holder(ip) is None


def test_empty_ip_releases_whatever_the_pod_holds(v1):
    v1.create_pool(2)
    ip = v1.require("pod-1").json()["IP"]
    other = v1.require("pod-2").json()["IP"]
    assert v1.release("pod-1", "").json()["Code"] == 0
    assert holder(ip) is None
    assert holder(other) == "pod-2"


def test_release_after_the_pool_is_gone_is_success(v1):
    v1.create_pool(1)
    ip = v1.require("pod-1").json()["IP"]
    v1.release_pool()
    v1.release("pod-1", ip)
    assert v1.release("pod-1", ip).json()["Code"] == 0
    assert not Address.objects.exists()


def test_release_accepts_any_text_form_of_the_ip(v1):
    from tests.support.api import holder, make_subnet

    make_subnet("v6", cidr="fd00:5::/64", gateway="fd00:5::1")
    v1.create_pool(1, subnet_id="v6", gateway="fd00:5::1")
    ip = v1.require("pod-1").json()["IP"]
    expanded = __import__("ipaddress").ip_address(ip).exploded
    assert v1.release("pod-1", expanded).json()["Code"] == 0
    assert holder(ip) is None


def test_released_address_is_handed_out_again(v1):
    v1.create_pool(1)
    ip = v1.require("pod-1").json()["IP"]
    v1.release("pod-1", ip)
    assert v1.require("pod-2").json()["IP"] == ip
