"""The behaviour the one-statement bind of require must keep (SPEC, "Require IP")."""

from __future__ import annotations

from audit.models import AuditEvent
from pools.models import Address, Pool
from tests.support.api import lease_of


def test_require_binds_the_address_idle_longest(v1):
    v1.create_pool(3)
    ips = [v1.require(f"pod-{i}").json()["IP"] for i in range(3)]
    for i in (2, 0, 1):  # idle in this order
        assert v1.release(f"pod-{i}", ips[i]).json()["Code"] == 0
    handed = [v1.require(f"new-{i}").json()["IP"] for i in range(3)]
    assert handed == [ips[2], ips[0], ips[1]]


def test_require_retry_returns_same_address_and_records_resource_id(v1):
    v1.create_pool(2)
    first = v1.require("pod-1", resource_id="rid-9").json()
    again = v1.require("pod-1", resource_id="rid-9").json()
    assert (again["IP"], again["MacAddr"], again["PortID"]) == (first["IP"], first["MacAddr"], first["PortID"])
    address = Address.objects.get(ip=first["IP"])
    lease = lease_of(first["IP"])
    assert lease.k8s_resource_id == "rid-9" and lease.bound_at is not None and address.idle_since is None
    assert str(address.port_id) == first["PortID"] and address.mac == first["MacAddr"]
    assert Address.objects.filter(lease__pod_id="pod-1").count() == 1


def test_require_with_none_idle_takes_a_surge_address_then_refuses(v1):
    v1.create_pool(1)
    assert v1.require("pod-1").json()["Code"] == 0
    surge = v1.require("pod-2").json()
    assert surge["Code"] == 0 and Pool.objects.get().reserved_count == 2
    refused = v1.require("pod-3")
    assert refused.status_code == 409 and refused.json()["Code"] == 30


def test_require_writes_one_audit_event_naming_the_address(v1):
    v1.create_pool(1)
    ip = v1.require("pod-1", req_id="rq-7").json()["IP"]
    event = AuditEvent.objects.get(req_id="rq-7")
    assert (event.ip, event.pod_id, event.code, event.subnet_id) == (ip, "pod-1", 0, "subnet-a")
