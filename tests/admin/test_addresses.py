"""Console: addresses. Found by IP, MAC, PortID or pod; force-released, held, returned."""

from audit.models import AuditEvent
from core.choices import AdminAction
from pools.models import Address, Pool
from tests.support.admin import changelist, last_admin_event, page_messages, run_action
from tests.support.api import holder, lease_of


def _found(client, term: str) -> list[str]:
    response = client.get(changelist("address"), {"q": term})
    return [a.ip for a in response.context["cl"].result_list]


def test_search_by_ip_is_exact_and_finds_mac_portid_and_pod(admin_client, v1):
    v1.create_pool(12)
    lease = v1.require("pod-abc").json()
    assert _found(admin_client, lease["IP"]) == [lease["IP"]]
    assert "10.0.3.10" not in _found(admin_client, "10.0.3.1")  # exact: .1 is not .10
    assert _found(admin_client, lease["MacAddr"]) == [lease["IP"]]
    assert _found(admin_client, lease["PortID"]) == [lease["IP"]]
    assert _found(admin_client, "pod-abc") == [lease["IP"]]


def test_list_shows_pool_pod_and_bound_since(admin_client, v1):
    v1.create_pool(1)
    v1.require("pod-abc")
    page = admin_client.get(changelist("address")).content.decode()
    assert "c1/default/Deployment/web" in page
    assert 'class="field-pod"><span class="ipr-cut" title="pod-abc">pod-abc</span><' in page
    bound_at = lease_of(Address.objects.get().ip).bound_at
    assert f'class="field-since">bound {bound_at:%Y-%m-%d %H:%M}<' in page


def test_force_release_confirmation_names_the_pod_then_releases_and_audits(admin_client, v1):
    v1.create_pool(2)
    ip = v1.require("pod-abc").json()["IP"]
    address = Address.objects.get(ip=ip)
    confirm = run_action(admin_client, "address", "force_release", [address.pk], confirm=False)
    page = confirm.content.decode()
    assert "These pods lose their address" in page and "pod-abc" in page and ip in page
    assert holder(ip) == "pod-abc"  # nothing happens before the confirmation

    response = run_action(admin_client, "address", "force_release", [address.pk], **{f"pod_{address.pk}": "pod-abc"})
    assert any("pod pod-abc no longer holds it" in m for m in page_messages(response))
    address.refresh_from_db()
    assert holder(ip) is None and address.idle_since is not None
    event = last_admin_event(AdminAction.BINDING_FORCE_RELEASE)
    assert (event.actor, event.pod_id, event.ip, event.name) == ("admin:admin", "pod-abc", ip, "web")


def test_force_release_is_refused_when_another_pod_holds_it_by_then(admin_client, v1):
    v1.create_pool(1)
    ip = v1.require("pod-old").json()["IP"]
    address = Address.objects.get(ip=ip)
    run_action(admin_client, "address", "force_release", [address.pk], confirm=False)
    # Between the confirmation page and the click, the binding changes hands.
    v1.release("pod-old", ip)
    assert v1.require("pod-new").json()["IP"] == ip
    response = run_action(admin_client, "address", "force_release", [address.pk], **{f"pod_{address.pk}": "pod-old"})
    assert any("bound to pod pod-new, not to pod pod-old as confirmed" in m for m in page_messages(response))
    assert holder(ip) == "pod-new"
    assert not AuditEvent.objects.filter(admin_action=AdminAction.BINDING_FORCE_RELEASE).exists()


def test_force_release_of_an_idle_address_has_nothing_to_confirm(admin_client, v1):
    v1.create_pool(1)
    address = Address.objects.get()
    page = run_action(admin_client, "address", "force_release", [address.pk], confirm=False).content.decode()
    assert "Not bound, nothing to release" in page and "Yes, release" not in page


def test_force_release_above_target_returns_the_address_to_the_subnet(admin_client, v1):
    v1.create_pool(1)
    v1.require("p1")
    surge_ip = v1.require("p2").json()["IP"]
    v1.scale_pool(1, old=1)
    address = Address.objects.get(ip=surge_ip)
    run_action(admin_client, "address", "force_release", [address.pk], **{f"pod_{address.pk}": "p2"})
    assert not Address.objects.filter(ip=surge_ip).exists()
    assert Pool.objects.get().reserved_count == 1


def test_hold_takes_an_idle_address_out_of_its_pool_and_never_hands_it_out(admin_client, v1, subnet):
    v1.create_pool(2)
    pool = Pool.objects.get()
    held = Address.objects.order_by("ip_key").first()
    form = run_action(admin_client, "address", "hold", [held.pk], confirm=False)
    assert 'name="reason"' in form.content.decode()
    response = run_action(admin_client, "address", "hold", [held.pk], reason="security ticket 42")
    assert any(f"{held.ip}: held" in m for m in page_messages(response))
    assert not Address.objects.filter(pk=held.pk).exists()
    pool.refresh_from_db()
    assert pool.reserved_count == 1
    exclusion = subnet.exclusions.get(first_ip=held.ip, last_ip=held.ip)
    assert exclusion.reason == "held by admin:admin: security ticket 42"
    event = last_admin_event(AdminAction.ADDRESS_HOLD)
    assert event.actor == "admin:admin" and event.ip == held.ip
    # Even after the pool is gone and the whole subnet is asked for, the held address stays out.
    v1.release_pool()
    v1.create_pool(252, name="big")
    assert not Address.objects.filter(ip=held.ip).exists()
    assert v1.create_pool(1, name="one-more").json()["Code"] == 12


def test_hold_of_a_bound_address_is_refused(admin_client, v1, subnet):
    v1.create_pool(1)
    ip = v1.require("pod-abc").json()["IP"]
    address = Address.objects.get(ip=ip)
    response = run_action(admin_client, "address", "hold", [address.pk], reason="")
    assert any("bound to pod pod-abc; force-release it first" in m for m in page_messages(response))
    assert Address.objects.filter(pk=address.pk, lease__pod_id="pod-abc").exists()
    assert not subnet.exclusions.exists()


def test_return_idle_gives_the_address_back_to_the_subnet(admin_client, v1):
    v1.create_pool(2)
    pool = Pool.objects.get()
    address = Address.objects.first()
    response = run_action(admin_client, "address", "return_idle", [address.pk], confirm=False)
    assert any(f"{address.ip}: returned" in m for m in page_messages(response))
    assert not Address.objects.filter(pk=address.pk).exists()
    pool.refresh_from_db()
    assert pool.reserved_count == 1 == pool.addresses.count()
    assert last_admin_event(AdminAction.ADDRESS_RETURN).actor == "admin:admin"


def test_return_of_a_bound_address_is_refused(admin_client, v1):
    v1.create_pool(1)
    ip = v1.require("pod-abc").json()["IP"]
    address = Address.objects.get(ip=ip)
    response = run_action(admin_client, "address", "return_idle", [address.pk], confirm=False)
    assert any("bound to pod pod-abc" in m for m in page_messages(response))
    assert Address.objects.filter(pk=address.pk).exists()
