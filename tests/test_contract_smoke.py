from pools.models import Address, AuditEvent, Pool


def test_create_require_release_round_trip(v1):
    created = v1.create_pool(3)
    assert created.status_code == 200, created.json()
    assert created.json() == {"ReqID": "req-create", "ReqType": 0, "Code": 0, "Msg": created.json()["Msg"]}
    got = v1.require("pod-1")
    body = got.json()
    assert got.status_code == 200 and body["Code"] == 0
    assert body["IP"].startswith("10.0.3.") and body["SubnetGatewayAddr"] == "10.0.3.1"
    assert Address.objects.get(ip=body["IP"]).pod_id == "pod-1"
    released = v1.release("pod-1", body["IP"])
    assert released.json()["Code"] == 0
    assert Address.objects.get(ip=body["IP"]).pod_id is None
    assert Pool.objects.get().reserved_count == 3
    assert AuditEvent.objects.filter(req_type__isnull=False).count() == 3
