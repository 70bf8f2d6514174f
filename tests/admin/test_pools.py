"""Console: pools. Listed with their usage; resized and released through the services."""

from django.urls import reverse

from audit.models import AuditEvent
from core.choices import AdminAction, PoolState
from pools.models import Address, Pool
from tests.support.admin import changelist, last_admin_event, page_messages, run_action
from tests.support.api import make_subnet


def test_list_shows_target_reserved_bound_idle_and_surge(admin_client, v1):
    v1.create_pool(2)
    for pod in ("p1", "p2", "p3"):  # the third pod takes a surge address
        assert v1.require(pod).json()["Code"] == 0
    page = admin_client.get(changelist("pool")).content.decode()
    for cell in (
        'class="field-target">2<',
        'class="field-reserved">3<',
        'class="field-bound">3<',
        'class="field-idle">0<',
        'class="field-surge">1<',
    ):
        assert cell in page, cell


def test_list_filters_by_cluster_namespace_kind_state_and_subnet(admin_client, v1):
    make_subnet(subnet_id="subnet-b", cidr="10.0.4.0/24", gateway="10.0.4.1")
    v1.create_pool(1, name="web")
    v1.create_pool(1, name="db", kind=1, namespace="data", subnet_id="subnet-b", gateway="10.0.4.1")
    v1.release_pool(name="web")
    db_pool = Pool.objects.get(name="db")

    def names(query: str) -> set[str]:
        response = admin_client.get(changelist("pool") + "?" + query)
        return {p.name for p in response.context["cl"].result_list}

    assert names("kind__exact=1") == {"db"}
    assert names("namespace=data") == {"db"}
    assert names("state__exact=released") == {"web"}
    assert names(f"subnet__id__exact={db_pool.subnet_id}") == {"db"}
    assert names("k8s_cluster_id=c1") == {"web", "db"}


def test_resize_asks_for_the_target_then_reserves_and_audits(admin_client, v1):
    v1.create_pool(2)
    pool = Pool.objects.get()
    form = run_action(admin_client, "pool", "resize", [pool.pk], confirm=False)
    assert 'name="target"' in form.content.decode()
    response = run_action(admin_client, "pool", "resize", [pool.pk], target="5")
    assert any("target is now 5" in m for m in page_messages(response))
    pool.refresh_from_db()
    assert (pool.target, pool.reserved_count, pool.addresses.count()) == (5, 5, 5)
    event = last_admin_event(AdminAction.POOL_RESIZE)
    assert event.actor == "admin:admin" and event.name == "web" and event.detail["new_target"] == 5


def test_resize_beyond_the_subnet_is_refused_and_nothing_is_reserved(admin_client, v1):
    v1.create_pool(2)
    pool = Pool.objects.get()
    response = run_action(admin_client, "pool", "resize", [pool.pk], target="1000")
    assert any("refused (Code 12 SubnetExhausted)" in m for m in page_messages(response))
    pool.refresh_from_db()
    assert (pool.target, pool.reserved_count) == (2, 2)
    assert not AuditEvent.objects.filter(admin_action=AdminAction.POOL_RESIZE).exists()


def test_resize_of_a_released_pool_is_refused(admin_client, v1):
    v1.create_pool(2)
    v1.release_pool()
    pool = Pool.objects.get()
    response = run_action(admin_client, "pool", "resize", [pool.pk], target="3")
    assert any("only an active pool can be resized" in m for m in page_messages(response))


def test_resize_with_a_negative_target_shows_the_form_again(admin_client, v1):
    v1.create_pool(2)
    pool = Pool.objects.get()
    response = run_action(admin_client, "pool", "resize", [pool.pk], target="-1")
    assert 'name="target"' in response.content.decode()
    pool.refresh_from_db()
    assert pool.target == 2


def test_release_confirms_then_releases_and_audits(admin_client, v1):
    v1.create_pool(3)
    v1.require("p1")
    pool = Pool.objects.get()
    confirm = run_action(admin_client, "pool", "release", [pool.pk], confirm=False)
    assert "Release pools" in confirm.content.decode()
    pool.refresh_from_db()
    assert pool.state == PoolState.ACTIVE
    run_action(admin_client, "pool", "release", [pool.pk])
    pool.refresh_from_db()
    assert pool.state == PoolState.RELEASED
    assert list(Address.objects.values_list("lease__pod_id", flat=True)) == ["p1"]  # idle ones went back
    event = last_admin_event(AdminAction.POOL_RELEASE)
    assert event.actor == "admin:admin" and event.name == "web"


def test_release_of_a_released_pool_is_refused(admin_client, v1):
    v1.create_pool(1)
    v1.release_pool()
    v1.create_pool(1)  # a new active pool for the same workload must not be touched
    old = Pool.objects.get(state=PoolState.RELEASED)
    response = run_action(admin_client, "pool", "release", [old.pk])
    assert any("already released" in m for m in page_messages(response))
    assert Pool.objects.filter(state=PoolState.ACTIVE).count() == 1


def test_pool_page_is_read_only(admin_client, v1):
    v1.create_pool(1)
    pool = Pool.objects.get()
    page = admin_client.get(reverse("admin:pools_pool_change", args=[pool.pk])).content.decode()
    assert 'name="target"' not in page and 'name="_save"' not in page
    assert admin_client.get(reverse("admin:pools_pool_add")).status_code == 403
