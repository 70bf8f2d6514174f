"""Console: subnets. Registered and changed through the services; bad definitions are refused."""

from django.urls import reverse

from audit.models import AuditEvent
from core.choices import AdminAction
from pools.models import Subnet
from tests.support.admin import last_admin_event, subnet_form
from tests.support.api import make_subnet


def _add(client, **kwargs):
    return client.post(reverse("admin:pools_subnet_add"), subnet_form(**kwargs))


def _change(client, subnet, **kwargs):
    existing = [(e.pk, e.first_ip, e.last_ip) for e in subnet.exclusions.all()]
    kwargs.setdefault("existing", existing)
    data = subnet_form(**kwargs)
    for name in ("net_regional_id", "subnet_id"):
        data.pop(name)
    return client.post(reverse("admin:pools_subnet_change", args=[subnet.pk]), data)


def test_register_subnet_with_exclusions_writes_an_audit_event_naming_the_admin(admin_client, db):
    response = _add(admin_client, exclusions=[("10.0.5.10", "10.0.5.19"), ("10.0.5.200", "")])
    assert response.status_code == 302, response.content.decode()[:3000]
    subnet = Subnet.objects.get(subnet_id="subnet-b")
    assert sorted(subnet.exclusions.values_list("first_ip", "last_ip")) == [
        ("10.0.5.10", "10.0.5.19"),
        ("10.0.5.200", "10.0.5.200"),
    ]
    event = last_admin_event(AdminAction.SUBNET_CREATE)
    assert event.actor == "admin:admin" and event.subnet_id == "subnet-b"


def test_list_shows_capacity_reserved_bound_free_and_a_bar(admin_client, v1):
    v1.create_pool(4)
    v1.require("pod-1")
    page = admin_client.get(reverse("admin:pools_subnet_changelist")).content.decode()
    # 10.0.3.0/24: 254 usable, minus the gateway.
    for field, figure in (("capacity", 253), ("reserved", 4), ("bound", 1), ("free", 249)):
        assert f'class="field-{field}"><span class="ipr-num" title="{figure}">{figure}</span><' in page
    assert "ipresmgr-bar" in page


def test_overlapping_subnet_in_the_same_region_is_refused(admin_client, subnet):
    response = _add(admin_client, cidr="10.0.3.128/25", gateway="10.0.3.129")
    assert response.status_code == 200
    assert "overlaps subnet subnet-a" in response.content.decode()
    assert not Subnet.objects.filter(subnet_id="subnet-b").exists()
    # The same CIDR in another region is fine.
    assert _add(admin_client, cidr="10.0.3.0/24", gateway="10.0.3.1", net_regional_id="region-2").status_code == 302


def test_gateway_outside_the_cidr_is_refused(admin_client, db):
    response = _add(admin_client, gateway="10.0.6.1")
    assert "is not a usable address of 10.0.5.0/24" in response.content.decode()
    assert not Subnet.objects.exists()


def test_exclusion_outside_the_cidr_is_refused(admin_client, db):
    response = _add(admin_client, exclusions=[("10.0.6.1", "")])
    assert "is not inside 10.0.5.0/24" in response.content.decode()
    assert not Subnet.objects.exists()


def test_cidr_change_that_strands_reserved_addresses_is_refused(admin_client, v1, subnet):
    v1.create_pool(3)  # 10.0.3.2, .3, .4
    response = _change(admin_client, subnet, cidr="10.0.3.128/25", gateway="10.0.3.129")
    assert response.status_code == 200
    assert "would strand addresses pools have reserved (10.0.3.2, 10.0.3.3, 10.0.3.4)" in response.content.decode()
    subnet.refresh_from_db()
    assert subnet.cidr == "10.0.3.0/24"
    assert not AuditEvent.objects.filter(admin_action=AdminAction.SUBNET_UPDATE).exists()


def test_exclusion_over_reserved_addresses_is_refused(admin_client, v1, subnet):
    v1.create_pool(3)
    response = _change(admin_client, subnet, cidr="10.0.3.0/24", gateway="10.0.3.1", exclusions=[("10.0.3.3", "")])
    assert "would strand addresses pools have reserved (10.0.3.3)" in response.content.decode()
    assert not subnet.exclusions.exists()


def test_gateway_change_onto_a_reserved_address_is_refused(admin_client, v1, subnet):
    v1.create_pool(3)
    response = _change(admin_client, subnet, cidr="10.0.3.0/24", gateway="10.0.3.2")
    assert "would strand addresses pools have reserved (10.0.3.2)" in response.content.decode()


def test_growing_a_subnet_and_adding_a_free_exclusion_is_saved_and_audited(admin_client, v1, subnet):
    v1.create_pool(3)
    response = _change(admin_client, subnet, cidr="10.0.2.0/23", gateway="10.0.3.1", exclusions=[("10.0.3.100", "")])
    assert response.status_code == 302, response.content.decode()[:3000]
    subnet.refresh_from_db()
    assert subnet.cidr == "10.0.2.0/23"
    assert list(subnet.exclusions.values_list("first_ip", "last_ip")) == [("10.0.3.100", "10.0.3.100")]
    event = last_admin_event(AdminAction.SUBNET_UPDATE)
    assert event.actor == "admin:admin" and "10.0.2.0/23" in event.detail["after"]


def test_removing_an_exclusion_is_saved(admin_client, db):
    subnet = make_subnet(exclusions=["10.0.3.50-10.0.3.59"])
    (exclusion,) = subnet.exclusions.all()
    data = subnet_form(
        existing=[(exclusion.pk, exclusion.first_ip, exclusion.last_ip)], cidr=subnet.cidr, gateway=subnet.gateway
    )
    data.pop("net_regional_id"), data.pop("subnet_id")
    data["exclusions-0-DELETE"] = "on"
    response = admin_client.post(reverse("admin:pools_subnet_change", args=[subnet.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert not subnet.exclusions.exists()
