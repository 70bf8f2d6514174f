"""Console: clusters and tokens. A token is shown once and stored hashed; revoking stops it."""

import re

from django.urls import reverse

from audit.models import AuditEvent
from core.choices import AdminAction
from pools.models import ApiToken, Cluster
from tests.support.admin import last_admin_event, run_action
from tests.support.api import V1


def _token_on(response) -> str:
    match = re.search(r'class="ipresmgr-token">([^<]+)<', response.content.decode())
    assert match, response.content.decode()[:2000]
    return match.group(1)


def test_console_needs_a_staff_login(client, db):
    response = client.get(reverse("admin:pools_subnet_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_register_cluster_shows_its_token_once_and_stores_only_the_hash(admin_client, subnet):
    response = admin_client.post(
        reverse("admin:pools_cluster_add"), {"cluster_id": "prod-east", "description": "east", **_no_tokens()}
    )
    assert response.status_code == 200
    key = _token_on(response)
    cluster = Cluster.objects.get(cluster_id="prod-east")
    token = ApiToken.objects.get(cluster=cluster)
    assert token.key_hash == ApiToken.hash_key(key)
    assert not ApiToken.objects.filter(key_hash=key).exists()
    event = last_admin_event(AdminAction.CLUSTER_CREATE)
    assert event.actor == "admin:admin"
    # The token works against the API, for its own cluster.
    assert V1(key).create_pool(2, cluster="prod-east").json()["Code"] == 0
    # The cluster's page does not show it again.
    page = admin_client.get(reverse("admin:pools_cluster_change", args=[cluster.pk])).content.decode()
    assert key not in page and token.prefix in page


def _no_tokens():
    return {"tokens-TOTAL_FORMS": "0", "tokens-INITIAL_FORMS": "0", "tokens-MIN_NUM_FORMS": "0"}


def test_register_cluster_refuses_a_bad_or_duplicate_id(admin_client, cluster_token):
    bad = admin_client.post(reverse("admin:pools_cluster_add"), {"cluster_id": "no spaces", **_no_tokens()})
    assert bad.status_code == 200 and "letters, digits" in bad.content.decode()
    dup = admin_client.post(reverse("admin:pools_cluster_add"), {"cluster_id": "c1", **_no_tokens()})
    assert "already exists" in dup.content.decode()
    assert Cluster.objects.count() == 1


def test_create_operator_token_and_revoke_it(admin_client, subnet):
    response = admin_client.post(reverse("admin:pools_apitoken_add"), {"cluster": "", "description": "oncall"})
    key = _token_on(response)
    token = ApiToken.objects.get(key_hash=ApiToken.hash_key(key))
    assert token.is_operator and token.cluster is None
    assert last_admin_event(AdminAction.TOKEN_CREATE).actor == "admin:admin"
    assert V1(key).create_pool(1, cluster="any-cluster").json()["Code"] == 0  # an operator acts on all clusters

    run_action(admin_client, "apitoken", "revoke", [token.pk], confirm=False)
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert last_admin_event(AdminAction.TOKEN_REVOKE).actor == "admin:admin"
    assert V1(key).create_pool(1, cluster="any-cluster").json()["Code"] == 2


def test_issue_another_token_for_a_cluster(admin_client, cluster_token):
    cluster = Cluster.objects.get(cluster_id="c1")
    response = run_action(admin_client, "cluster", "issue_token", [cluster.pk], confirm=False, follow=False)
    key = _token_on(response)
    assert ApiToken.objects.get(key_hash=ApiToken.hash_key(key)).cluster == cluster
    assert AuditEvent.objects.filter(admin_action=AdminAction.TOKEN_CREATE, actor="admin:admin").exists()


def test_nothing_can_be_deleted_from_the_console(admin_client, cluster_token):
    cluster = Cluster.objects.get(cluster_id="c1")
    assert admin_client.get(reverse("admin:pools_cluster_delete", args=[cluster.pk])).status_code == 403
    assert Cluster.objects.filter(pk=cluster.pk).exists()
