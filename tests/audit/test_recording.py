"""Every call writes an audit event, in the same transaction as its change."""

from audit.models import AuditEvent
from core.choices import ReqType


def test_each_call_writes_one_event_with_its_facts(v1):
    v1.create_pool(2)
    ip = v1.require("pod-1", req_id="req-abc").json()["IP"]
    v1.release("pod-1", ip)
    v1.scale_pool(3, old=2)
    v1.release_pool()
    events = list(AuditEvent.objects.filter(req_type__isnull=False).order_by("id"))
    assert [e.req_type for e in events] == [
        ReqType.CREATE_IP_POOL,
        ReqType.REQUIRE_IP,
        ReqType.RELEASE_IP,
        ReqType.SCALE_IP_POOL,
        ReqType.RELEASE_IP_POOL,
    ]
    require = events[1]
    assert (require.req_id, require.k8s_cluster_id, require.namespace, require.kind, require.name) == (
        "req-abc",
        "c1",
        "default",
        0,
        "web",
    )
    assert (require.pod_id, require.ip, require.code) == ("pod-1", ip, 0)
    assert events[2].ip == ip and events[2].pod_id == "pod-1"


def test_refusals_are_audited_with_their_code(v1):
    v1.require("pod-1", name="nothing")
    event = AuditEvent.objects.get(req_type=ReqType.REQUIRE_IP)
    assert (event.code, event.pod_id, event.name) == (20, "pod-1", "nothing")
    assert "no active pool" in event.msg


def test_the_log_answers_who_held_an_ip_at_a_time(v1):
    v1.create_pool(1)
    ip = v1.require("pod-a").json()["IP"]
    v1.release("pod-a", ip)
    v1.require("pod-b")
    bound = AuditEvent.objects.filter(ip=ip, req_type=ReqType.REQUIRE_IP, code=0).order_by("at")
    assert [e.pod_id for e in bound] == ["pod-a", "pod-b"]
    released = AuditEvent.objects.get(ip=ip, req_type=ReqType.RELEASE_IP)
    assert bound[0].at <= released.at <= bound[1].at
