"""Console: the audit log is read-only, filterable, searchable, and tells who held an IP when."""

from datetime import UTC, datetime

from django.urls import reverse

from audit.models import AuditEvent
from core.choices import Code, ReqType
from tests.support.admin import changelist


def _listed(client, query: dict) -> list[AuditEvent]:
    return list(client.get(changelist("auditevent"), query).context["cl"].result_list)


def test_audit_log_cannot_be_added_changed_or_deleted(admin_client, v1):
    v1.create_pool(1)
    event = AuditEvent.objects.first()
    assert admin_client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    assert admin_client.get(reverse("admin:audit_auditevent_delete", args=[event.pk])).status_code == 403
    page = admin_client.get(reverse("admin:audit_auditevent_change", args=[event.pk])).content.decode()
    assert 'name="_save"' not in page
    admin_client.post(reverse("admin:audit_auditevent_change", args=[event.pk]), {"msg": "rewritten"})
    event.refresh_from_db()
    assert event.msg != "rewritten"


def test_filters_by_req_type_code_cluster_namespace_and_admin_action(admin_client, v1):
    v1.create_pool(1)
    v1.require("p1")
    v1.release("p1", "10.0.3.99", resource_id="x")  # not bound: success, nothing to do
    v1.require("p2", namespace="other")  # no pool there: 20
    assert {e.req_type for e in _listed(admin_client, {"req_type__exact": ReqType.REQUIRE_IP})} == {ReqType.REQUIRE_IP}
    assert [e.pod_id for e in _listed(admin_client, {"code__exact": Code.POOL_NOT_FOUND})] == ["p2"]
    assert {e.namespace for e in _listed(admin_client, {"namespace": "other"})} == {"other"}
    assert len(_listed(admin_client, {"k8s_cluster_id": "c1"})) == 4
    assert {e.admin_action for e in _listed(admin_client, {"admin_action": "subnet_create"})} == {"subnet_create"}
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    dated = _listed(admin_client, {"at__gte": midnight.isoformat(), "at__lt": "2999-01-01T00:00:00+00:00"})
    assert len(dated) == AuditEvent.objects.count()


def test_search_by_ip_pod_and_req_id(admin_client, v1):
    v1.create_pool(1)
    ip = v1.require("pod-xyz", req_id="req-777").json()["IP"]
    assert {e.pod_id for e in _listed(admin_client, {"q": ip})} == {"pod-xyz"}
    assert {e.ip for e in _listed(admin_client, {"q": "pod-xyz"})} == {ip}
    assert [e.req_type for e in _listed(admin_client, {"q": "req-777"})] == [ReqType.REQUIRE_IP]


def _at(hour: int, minute: int) -> datetime:
    return datetime(2026, 5, 4, hour, minute, tzinfo=UTC)


def _who_held(client, ip: str, when: str) -> str:
    response = client.get(reverse("admin:audit_auditevent_who_held"), {"ip": ip, "at": when})
    assert response.status_code == 200
    return response.content.decode()


def test_who_held_an_address_at_a_time(admin_client, v1):
    """pod-a binds 10.0.3.2 at 13:00 (and retries at 13:01), lets go at 14:00; pod-b has it from 14:05."""
    v1.create_pool(1)
    timeline = []
    for pod, call in (("pod-a", "require"), ("pod-a", "require"), ("pod-a", "release"), ("pod-b", "require")):
        before = AuditEvent.objects.count()
        (v1.require(pod) if call == "require" else v1.release(pod)).json()
        timeline.append(AuditEvent.objects.order_by("id")[before:].get().pk)
    for pk, when in zip(timeline, [_at(13, 0), _at(13, 1), _at(14, 0), _at(14, 5)], strict=True):
        AuditEvent.objects.filter(pk=pk).update(at=when)

    answer = _who_held(admin_client, "10.0.3.2", "2026-05-04 13:30")
    assert 'class="holder">pod-a<' in answer
    assert "bound since May 4, 2026, 1 p.m." in answer and "until May 4, 2026, 2 p.m." in answer
    answer = _who_held(admin_client, "10.0.3.2", "2026-05-04 14:02")
    assert "was not bound to any pod" in answer and "pod-a" in answer
    assert 'class="holder">pod-b<' in _who_held(admin_client, "10.0.3.2", "2026-05-04 15:00")
    assert "records no binding" in _who_held(admin_client, "10.0.3.2", "2026-05-04 12:00")


def test_who_held_refuses_text_that_is_not_an_ip(admin_client, db):
    assert "not an IPv4 or IPv6 address" in _who_held(admin_client, "10.0.3.999", "2026-05-04 14:02")


def test_the_audit_list_links_to_who_held(admin_client, db):
    page = admin_client.get(changelist("auditevent")).content.decode()
    assert reverse("admin:audit_auditevent_who_held") in page


def test_who_held_sees_a_binding_ended_by_a_console_force_release(admin_client, v1):
    from pools.models import Address
    from tests.support.admin import run_action

    v1.create_pool(1)
    ip = v1.require("pod-a").json()["IP"]
    address = Address.objects.get(ip=ip)
    run_action(admin_client, "address", "force_release", [address.pk], **{f"pod_{address.pk}": "pod-a"})
    bind = AuditEvent.objects.get(req_type=ReqType.REQUIRE_IP)
    force = AuditEvent.objects.get(admin_action="binding_force_release")
    AuditEvent.objects.filter(pk=bind.pk).update(at=_at(13, 0))
    AuditEvent.objects.filter(pk=force.pk).update(at=_at(14, 0))
    assert 'class="holder">pod-a<' in _who_held(admin_client, ip, "2026-05-04 13:59")
    after = _who_held(admin_client, ip, "2026-05-04 14:01")
    assert "was not bound to any pod" in after and "Binding force-released" in after


def test_the_old_address_of_the_audit_pages_redirects_to_the_audit_app(admin_client):
    old = admin_client.get("/admin/pools/auditevent/who-held/?ip=10.0.3.7&at=2026-05-04+14:02")
    assert old.status_code == 301
    assert old["Location"] == "/admin/audit/auditevent/who-held/?ip=10.0.3.7&at=2026-05-04+14:02"
    assert admin_client.get(old["Location"]).status_code == 200
