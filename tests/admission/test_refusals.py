"""The webhook refuses what it cannot read (HTTP 400 with a Kubernetes Status, never HTML) and who
may not call it."""

from __future__ import annotations

import pytest

from core.choices import Code, PoolState
from pools.models import Pool
from tests.support.admission import (
    BAD_REQUESTS,
    MALFORMED,
    Apiserver,
    assert_status,
    create,
    delete,
    pool_of,
    update,
    webhook_events,
    with_changes,
)
from tests.support.api import CLUSTER

# Malformed reviews: HTTP 400 with a Kubernetes Status, never HTML ------------------------------------


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_review_is_refused_with_400(api, case):
    change, text = MALFORMED[case]
    if isinstance(change, bytes):
        response = api.send(None, raw=change)
    else:
        response = api.send({**create(), **change})
    assert_status(response, 400, Code.INVALID_REQUEST, text)
    assert Pool.objects.count() == 0


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_a_review_with_a_bad_request_field_is_refused_with_400(api, case):
    change, text = BAD_REQUESTS[case]
    assert_status(api.send(with_changes(create(), **change)), 400, Code.INVALID_REQUEST, text)
    assert Pool.objects.count() == 0


@pytest.mark.parametrize("replicas", ["3", 2.5, True, -1, 2**31])
def test_a_replica_count_that_is_no_count_is_refused_with_400(api, replicas):
    body = create()
    body["request"]["object"]["spec"]["replicas"] = replicas
    assert_status(api.send(body), 400, Code.INVALID_REQUEST, "request.object.spec.replicas: must be an integer")


def test_update_without_old_object_is_refused_with_400(api):
    body = update(before={}, after={"replicas": 4})
    body["request"]["oldObject"] = None
    assert_status(api.send(body), 400, Code.INVALID_REQUEST, "request.oldObject: an UPDATE review must carry")


def test_a_body_that_is_not_json_by_its_type_is_refused_with_415(api):
    assert_status(api.send(create(), content_type="text/plain"), 415, Code.INVALID_REQUEST, "not text/plain")


def test_answers_are_json_whatever_the_caller_accepts(api):
    body = create()
    assert api.send(body, HTTP_ACCEPT="application/vnd.kubernetes.protobuf").json()["response"]["allowed"] is True


def test_other_methods_and_paths_answer_json(api):
    response = api.client.get("/k8s/admission", HTTP_AUTHORIZATION=f"Bearer {api.token}")
    assert_status(response, 405, Code.INVALID_REQUEST, 'Method "GET" not allowed')
    assert_status(api.client.post("/k8s/mutate", {}), 404, Code.INVALID_REQUEST, "no endpoint /k8s/mutate")


# Who calls ------------------------------------------------------------------------------------------


def test_no_token_is_refused_with_401_and_changes_nothing(api):
    response = api.send(create(), token=None)
    assert_status(response, 401, Code.UNAUTHENTICATED, "no token")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert_status(api.send(create(), token="ipr_not-a-token"), 401, Code.UNAUTHENTICATED, "unknown or revoked token")
    assert Pool.objects.count() == 0


def test_an_operator_token_is_refused_it_names_no_cluster(api, operator_token):
    assert_status(api.send(create(), token=operator_token), 403, Code.FORBIDDEN, "an operator token names no cluster")
    assert Pool.objects.count() == 0


def test_anonymous_access_does_not_open_the_webhook(api, settings):
    settings.IPRESMGR_ALLOW_ANONYMOUS = True
    assert_status(api.send(create(), token=None), 401, Code.UNAUTHENTICATED, "needs a cluster token")


def test_the_pool_belongs_to_the_cluster_of_the_token(api, other_cluster_token):
    api.admit(create(replicas=3))
    other = Apiserver(other_cluster_token)
    other.admit(create(replicas=2))
    assert pool_of(cluster="c1").target == 3 and pool_of(cluster="c2").target == 2
    # c2's apiserver deleting its "web" never touches c1's.
    other.admit(delete())
    assert pool_of(cluster="c1").state == PoolState.ACTIVE
    assert pool_of(cluster="c2").state == PoolState.RELEASED


# Client certificate, checked by the TLS front, which passes the subject DN -------------------------


def test_client_certificate_cn_names_the_cluster(api, dn_header):
    answer = api.admit(create(replicas=2), token=None, **{dn_header: f"CN={CLUSTER},O=ipresmgr-webhook"})
    assert answer["allowed"] is True
    assert pool_of().target == 2
    assert webhook_events()[0].actor == f"cluster {CLUSTER} client certificate"


def test_client_certificate_header_from_an_untrusted_peer_is_refused(api, dn_header):
    response = api.send(create(), token=None, REMOTE_ADDR="10.1.2.3", **{dn_header: f"CN={CLUSTER}"})
    assert_status(response, 401, Code.UNAUTHENTICATED, "10.1.2.3 is not one")
    assert Pool.objects.count() == 0


def test_client_certificate_of_an_unregistered_cluster_is_refused(api, dn_header):
    response = api.send(create(), token=None, **{dn_header: "CN=nobody,O=x"})
    assert_status(response, 401, Code.UNAUTHENTICATED, "its CN names no registered cluster")


def test_client_certificate_header_is_ignored_unless_configured(api):
    response = api.send(create(), token=None, HTTP_X_IPRESMGR_CLIENT_DN=f"CN={CLUSTER}")
    assert_status(response, 401, Code.UNAUTHENTICATED, "no token")
    assert Pool.objects.count() == 0
