"""Bearer tokens: cluster tokens act on their own cluster, operator tokens on all."""

from audit.models import AuditEvent
from core.choices import AdminAction
from core.domain import COMMAND_LINE, CallContext
from pools import services
from pools.models import ApiToken, Pool
from tests.support.api import V1


def test_no_token_is_401_code_2(subnet, cluster_token):
    response = V1(None).create_pool(2)
    assert (response.status_code, response.json()["Code"]) == (401, 2)
    assert response.json()["ReqID"] == "req-create"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Pool.objects.exists()


def test_unknown_token_is_401_code_2(subnet, cluster_token):
    response = V1("ipr_not-a-real-token").create_pool(2)
    assert (response.status_code, response.json()["Code"]) == (401, 2)


def test_malformed_authorization_header_is_401(v1):
    response = v1.client.post("/v1/ip/require", {}, format="json", HTTP_AUTHORIZATION="Basic abc")
    assert (response.status_code, response.json()["Code"]) == (401, 2)


def test_revoked_token_is_401(v1):
    ApiToken.objects.update(revoked_at="2026-01-01T00:00:00Z")
    assert v1.create_pool(2).json()["Code"] == 2


def test_cluster_token_may_not_act_on_another_cluster(v1, other_cluster_token):
    response = v1.create_pool(2, cluster="c2")
    assert (response.status_code, response.json()["Code"]) == (403, 3)
    assert not Pool.objects.exists()
    assert V1(other_cluster_token).create_pool(2, cluster="c2").json()["Code"] == 0


def test_operator_token_acts_on_any_cluster(subnet, operator_token):
    operator = V1(operator_token)
    assert operator.create_pool(1, cluster="any-cluster").json()["Code"] == 0
    assert operator.require("pod-1", cluster="any-cluster").json()["Code"] == 0


def test_anonymous_is_refused_by_default_and_accepted_when_allowed(subnet, settings, db):
    assert V1(None).create_pool(1).json()["Code"] == 2
    settings.IPRESMGR_ALLOW_ANONYMOUS = True
    assert V1(None).create_pool(1).json()["Code"] == 0
    assert AuditEvent.objects.filter(req_type=0, code=0).get().actor == "anonymous"
    # A token that is sent is still checked.
    assert V1("ipr_wrong").create_pool(1).json()["Code"] == 2


def test_tokens_are_stored_hashed(cluster_token):
    stored = ApiToken.objects.get()
    assert cluster_token not in (stored.key_hash, stored.prefix)
    assert stored.key_hash == ApiToken.hash_key(cluster_token)


def test_audit_names_the_token(v1):
    v1.create_pool(1)
    event = AuditEvent.objects.get(req_type=0)
    assert event.actor.startswith("cluster c1 token ipr_")


def test_token_revoked_through_the_service_is_refused_at_once(v1):
    assert v1.create_pool(2).json()["Code"] == 0  # now trusted from the cache
    token = ApiToken.objects.get(cluster__cluster_id="c1")
    services.token_revoke(ctx=CallContext(actor=COMMAND_LINE, admin_action=AdminAction.TOKEN_REVOKE), token=token)
    assert v1.scale_pool(3).json()["Code"] == 2


def test_token_revoked_by_another_process_is_trusted_until_the_cache_expires(v1, settings):
    settings.IPRESMGR_TOKEN_CACHE_SECONDS = 600
    assert v1.create_pool(2).json()["Code"] == 0
    ApiToken.objects.update(revoked_at="2026-01-01T00:00:00Z")  # as another process would
    assert v1.scale_pool(3).json()["Code"] == 0  # the documented revocation delay


def test_with_the_token_cache_off_a_revocation_elsewhere_is_refused_at_once(v1, settings):
    settings.IPRESMGR_TOKEN_CACHE_SECONDS = 0
    assert v1.create_pool(2).json()["Code"] == 0
    ApiToken.objects.update(revoked_at="2026-01-01T00:00:00Z")
    assert v1.scale_pool(3).json()["Code"] == 2
