"""Console: who may use a subnet (grants and quotas inline on its page, saved by the access service
and audited), huge networks only when forced, figures and names a person can read at 1366 px, the
pool page's addresses, and refused registrations named for what they are."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from core.choices import AdminAction
from pools import services
from pools.models import Address, Cluster, Pool, Subnet, SubnetGrant
from pools.templatetags.pools_admin import readable_count
from tests.support.admin import changelist, subnet_form
from tests.support.api import V1, command_ctx, make_subnet


def _add(client, **kwargs):
    return client.post(reverse("admin:pools_subnet_add"), subnet_form(**kwargs))


def _change(client, subnet, **kwargs):
    kwargs.setdefault("existing", [(e.pk, e.first_ip, e.last_ip) for e in subnet.exclusions.all()])
    data = subnet_form(cidr=subnet.cidr, gateway=subnet.gateway, **kwargs)
    data.pop("net_regional_id"), data.pop("subnet_id")
    return client.post(reverse("admin:pools_subnet_change", args=[subnet.pk]), data)


def _shown_grants(subnet):
    return [(g.pk, g.cluster_id, g.quota, False) for g in subnet.grants.order_by("cluster_id")]


@pytest.fixture
def clusters(cluster_token, other_cluster_token):
    return Cluster.objects.get(cluster_id="c1"), Cluster.objects.get(cluster_id="c2")


def test_registering_a_subnet_with_grants_closes_it_to_others_and_audits_each_grant(admin_client, clusters):
    c1, c2 = clusters
    response = _add(admin_client, grants=[(c1.pk, 10), (c2.pk, None)])
    assert response.status_code == 302, response.content.decode()[:3000]
    subnet = Subnet.objects.get(subnet_id="subnet-b")
    assert not subnet.open_without_grants
    assert dict(subnet.grants.values_list("cluster__cluster_id", "quota")) == {"c1": 10, "c2": None}
    events = AuditEvent.objects.filter(admin_action=AdminAction.SUBNET_GRANT).order_by("id")
    assert [(e.k8s_cluster_id, e.subnet_id, e.actor) for e in events] == [
        ("c1", "subnet-b", "admin:admin"),
        ("c2", "subnet-b", "admin:admin"),
    ]


def test_a_subnet_registered_unticked_is_closed_until_granted(admin_client, clusters, cluster_token):
    assert _add(admin_client, open_without_grants=None).status_code == 302
    subnet = Subnet.objects.get(subnet_id="subnet-b")
    assert not subnet.open_without_grants and not subnet.grants.exists()
    body = V1(cluster_token).create_pool(1, subnet_id="subnet-b", gateway="10.0.5.1").json()
    assert body["Code"] == 3 and "may not use subnet subnet-b" in body["Msg"]


def test_the_add_page_ticks_open_as_the_setting_says(admin_client, settings):
    def ticked() -> bool:
        page = admin_client.get(reverse("admin:pools_subnet_add")).content.decode()
        (box,) = re.findall(r"<input[^>]*name=\"open_without_grants\"[^>]*>", page)
        return " checked" in box

    assert ticked()
    settings.IPRESMGR_SUBNETS_OPEN_BY_DEFAULT = False
    assert not ticked()


def test_changing_a_quota_and_removing_a_grant_on_the_subnet_page(admin_client, clusters, cluster_token):
    c1, c2 = clusters
    subnet = make_subnet()
    services.subnet_access_set(ctx=command_ctx(AdminAction.SUBNET_ACCESS), subnet=subnet, grants={"c1": 5, "c2": None})
    assert V1(cluster_token).create_pool(3).json()["Code"] == 0
    shown = _shown_grants(subnet)
    page = admin_client.get(reverse("admin:pools_subnet_change", args=[subnet.pk])).content.decode()
    assert "Clusters allowed to use this subnet" in page
    reserved_here = [int(n) for n in re.findall(r'field-reserved_here">\s*<p>(\d+)</p>', page)]
    assert reserved_here == [3, 0]  # c1's pool, beside its grant; c2 reserves nothing here
    # c1's quota from 5 to 2 (below what it holds), c2's grant removed.
    rows = [(shown[0][0], c1.pk, 2, False), (shown[1][0], c2.pk, None, True)]
    response = _change(admin_client, subnet, existing_grants=rows, open_without_grants=None)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert dict(subnet.grants.values_list("cluster__cluster_id", "quota")) == {"c1": 2}
    revoked = AuditEvent.objects.get(admin_action=AdminAction.SUBNET_REVOKE)
    assert (revoked.k8s_cluster_id, revoked.actor) == ("c2", "admin:admin")
    changed = AuditEvent.objects.filter(admin_action=AdminAction.SUBNET_GRANT).latest("id")
    assert "a quota of 5 addresses -> a quota of 2 addresses" in changed.msg and changed.actor == "admin:admin"
    # The pool keeps its 3 addresses; it may not grow past the new quota.
    assert Pool.objects.get().reserved_count == 3
    body = V1(cluster_token).scale_pool(4, 3).json()
    assert body["Code"] == 12 and body["Msg"].startswith("quota of cluster 'c1' in subnet subnet-a is 2 addresses")


def test_removing_every_grant_leaves_the_subnet_closed_unless_ticked_open(admin_client, clusters):
    c1, _ = clusters
    subnet = make_subnet()
    services.subnet_grant(ctx=command_ctx(AdminAction.SUBNET_GRANT), subnet=subnet, cluster_id="c1")
    (grant,) = _shown_grants(subnet)
    remove = [(grant[0], c1.pk, None, True)]
    assert _change(admin_client, subnet, existing_grants=remove, open_without_grants=None).status_code == 302
    subnet.refresh_from_db()
    assert not subnet.grants.exists() and not subnet.open_without_grants
    assert _change(admin_client, subnet).status_code == 302  # ticked
    subnet.refresh_from_db()
    assert subnet.open_without_grants
    assert AuditEvent.objects.get(admin_action=AdminAction.SUBNET_ACCESS).actor == "admin:admin"


def test_a_grant_to_the_same_cluster_twice_is_refused_on_the_page(admin_client, clusters):
    c1, _ = clusters
    response = _add(admin_client, grants=[(c1.pk, 1), (c1.pk, 2)])
    assert response.status_code == 200
    assert "Please correct the duplicate data for cluster" in response.content.decode()
    assert not Subnet.objects.filter(subnet_id="subnet-b").exists()


@pytest.mark.parametrize(("cidr", "gateway"), [("0.0.0.0/0", "0.0.0.1"), ("::/0", "::1"), ("10.0.0.0/7", "10.0.0.1")])
def test_a_huge_network_is_registered_only_when_forced(admin_client, db, cidr, gateway):
    response = _add(admin_client, cidr=cidr, gateway=gateway)
    assert response.status_code == 200
    assert f"{cidr} is far too large for a subnet" in response.content.decode()
    assert not Subnet.objects.exists()
    response = _add(admin_client, cidr=cidr, gateway=gateway, force="on")
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Subnet.objects.get().cidr == cidr


def test_ipv6_figures_read_as_powers_of_two_with_the_exact_figure_on_hover(admin_client, db):
    make_subnet("subnet-v6", "fd00:3::/64", "fd00:3::1")
    for page in (admin_client.get(changelist("subnet")), admin_client.get(reverse("admin:index"))):
        html = page.content.decode()
        assert f'title="{2**64 - 2}">2^64 - 2</span>' in html
        assert "18446744073709551614<" not in html


@pytest.mark.parametrize(
    ("count", "shown"),
    [(253, "253"), (10**9 - 1, "999999999"), (2**64 - 2, "2^64 - 2"), (2**80, "2^80"), (2**32 + 5, "2^32 + 5")]
    + [(3 * 10**18, "3e+18")],
)
def test_readable_count(count, shown):
    assert readable_count(count) == shown


def test_long_names_are_cut_short_with_the_whole_name_on_hover(admin_client, v1):
    name = "a-very-long-workload-name-" + "x" * 200
    v1.create_pool(1, name=name)
    for model, shown in (("pool", "Deployment/"), ("address", "Deployment/"), ("auditevent", "")):
        html = admin_client.get(changelist(model)).content.decode()
        assert re.search(f'<span class="ipr-cut[^"]*" title="c1/default/{shown}{name}">', html), model


def test_a_refused_subnet_registration_is_not_called_registered(admin_client, operator_token):
    body = {"NetRegionalID": "r", "SubnetID": "s", "CIDR": "10.9.0.1/24", "Gateway": "10.9.0.1"}
    assert V1(operator_token).post("/v1/subnets", body).json()["Code"] == 1
    event = AuditEvent.objects.get(admin_action=AdminAction.SUBNET_CREATE, code=1)
    assert event.get_admin_action_display() == "Subnet registration"
    html = admin_client.get(changelist("auditevent")).content.decode()
    assert "Subnet registered" not in html
    assert "Subnet registration" in html and "InvalidRequest" in html


def test_the_pool_page_lists_its_addresses_a_page_at_a_time(admin_client, v1):
    v1.create_pool(60)
    bound = v1.require("pod-1").json()["IP"]
    pool = Pool.objects.get()
    url = reverse("admin:pools_pool_change", args=[pool.pk])
    first = admin_client.get(url).content.decode()
    assert "Addresses of this pool (60)" in first and "page 1 of 2" in first
    first_address = Address.objects.filter(pool=pool).order_by("ip_key").first()
    link = reverse("admin:pools_address_change", args=[first_address.pk])
    assert f'<a href="{link}">{first_address.ip}</a>' in first
    assert first.count("idle since") == 49 and first.count(">in use<") == 1 and bound in first
    second = admin_client.get(url, {"addresses_page": 2}).content.decode()
    assert "page 2 of 2" in second and second.count("idle since") == 10
    listing = admin_client.get(changelist("address"), {"pool__id__exact": pool.pk})
    assert listing.status_code == 200 and len(listing.context["cl"].result_list) == 60


def test_view_site_leads_to_the_start_page(admin_client, db):
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert '<a href="/">View site</a>' in html
    assert admin_client.get("/").status_code == 200


def test_grants_are_not_deleted_behind_the_services_back(admin_client, clusters):
    """The grants inline saves through the access service only: nothing else writes SubnetGrant."""
    subnet = make_subnet()
    services.subnet_grant(ctx=command_ctx(AdminAction.SUBNET_GRANT), subnet=subnet, cluster_id="c1", quota=1)
    assert _change(admin_client, subnet, existing_grants=_shown_grants(subnet)).status_code == 302
    assert SubnetGrant.objects.get().quota == 1
    assert AuditEvent.objects.filter(admin_action=AdminAction.SUBNET_GRANT).count() == 1  # nothing changed
