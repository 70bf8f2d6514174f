"""Every /v1 answer is the JSON envelope; bad input is Code 1 and changes nothing."""

import json

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from pools.models import Address, Pool

WORKLOAD = {"K8SClusterID": "c1", "K8SNamespace": "default", "K8SApiResourceKind": 0, "K8SApiResourceName": "web"}
CREATE = {
    "ReqID": "bad-1",
    **WORKLOAD,
    "K8SApiResourceReplicas": 2,
    "NetRegionalID": "region-1",
    "SubnetID": "subnet-a",
    "SubnetGatewayAddr": "10.0.3.1",
}
REQUIRE = {"ReqID": "bad-1", **WORKLOAD, "K8SApiResourceID": "rid", "K8SPodID": "pod-1"}
SCALE = {"ReqID": "bad-1", **WORKLOAD, "K8SApiResourceOldReplicas": 2, "K8SApiResourceNewReplicas": 3}


def assert_envelope(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["Code"] == code and isinstance(body["Msg"], str) and body["Msg"]
    assert isinstance(body["ReqID"], str) and body["ReqID"]
    return body


def changed(path, body):
    return {**{"/v1/ippool/create": CREATE, "/v1/ip/require": REQUIRE, "/v1/ippool/scale": SCALE}[path], **body}


BAD_INPUTS = [
    ("/v1/ippool/create", {"K8SNamespace": "Default"}, "K8SNamespace"),
    ("/v1/ippool/create", {"K8SNamespace": "a" * 64}, "K8SNamespace"),
    ("/v1/ippool/create", {"K8SNamespace": "-x"}, "K8SNamespace"),
    ("/v1/ippool/create", {"K8SNamespace": "web.app"}, "K8SNamespace"),
    ("/v1/ippool/create", {"K8SNamespace": ""}, "K8SNamespace"),
    ("/v1/ippool/create", {"K8SNamespace": None}, "K8SNamespace"),
    ("/v1/ippool/create", {"K8SNamespace": 7}, "K8SNamespace"),
    ("/v1/ippool/create", {"K8SApiResourceName": "Web"}, "K8SApiResourceName"),
    ("/v1/ippool/create", {"K8SApiResourceName": "a" * 254}, "K8SApiResourceName"),
    ("/v1/ippool/create", {"K8SApiResourceName": "web..app"}, "K8SApiResourceName"),
    ("/v1/ippool/create", {"K8SApiResourceName": "web\x00"}, "K8SApiResourceName"),
    ("/v1/ippool/create", {"K8SClusterID": "c 1"}, "K8SClusterID"),
    ("/v1/ippool/create", {"K8SClusterID": "c" * 129}, "K8SClusterID"),
    ("/v1/ippool/create", {"K8SApiResourceKind": 4}, "K8SApiResourceKind"),
    ("/v1/ippool/create", {"K8SApiResourceKind": -1}, "K8SApiResourceKind"),
    ("/v1/ippool/create", {"K8SApiResourceKind": "0"}, "K8SApiResourceKind"),
    ("/v1/ippool/create", {"K8SApiResourceKind": True}, "K8SApiResourceKind"),
    ("/v1/ippool/create", {"K8SApiResourceKind": 0.0}, "K8SApiResourceKind"),
    ("/v1/ippool/create", {"K8SApiResourceReplicas": -1}, "K8SApiResourceReplicas"),
    ("/v1/ippool/create", {"K8SApiResourceReplicas": 2**31}, "K8SApiResourceReplicas"),
    ("/v1/ippool/create", {"K8SApiResourceReplicas": 2.5}, "K8SApiResourceReplicas"),
    ("/v1/ippool/create", {"K8SApiResourceReplicas": 2.0}, "K8SApiResourceReplicas"),
    ("/v1/ippool/create", {"K8SApiResourceReplicas": "2"}, "K8SApiResourceReplicas"),
    ("/v1/ippool/create", {"K8SApiResourceReplicas": False}, "K8SApiResourceReplicas"),
    ("/v1/ippool/create", {"K8SApiResourceReplicas": None}, "K8SApiResourceReplicas"),
    ("/v1/ippool/create", {"SubnetGatewayAddr": "10.0.3.256"}, "SubnetGatewayAddr"),
    ("/v1/ippool/create", {"SubnetGatewayAddr": "gateway"}, "SubnetGatewayAddr"),
    ("/v1/ippool/create", {"SubnetGatewayAddr": ""}, "SubnetGatewayAddr"),
    ("/v1/ippool/create", {"SubnetID": ""}, "SubnetID"),
    ("/v1/ippool/create", {"NetRegionalID": ["r"]}, "NetRegionalID"),
    ("/v1/ippool/create", {"ReqID": "r" * 129}, "ReqID"),
    ("/v1/ippool/create", {"ReqID": 5}, "ReqID"),
    ("/v1/ippool/scale", {"K8SApiResourceNewReplicas": -3}, "K8SApiResourceNewReplicas"),
    ("/v1/ippool/scale", {"K8SApiResourceOldReplicas": "x"}, "K8SApiResourceOldReplicas"),
    ("/v1/ip/require", {"K8SPodID": ""}, "K8SPodID"),
    ("/v1/ip/require", {"K8SPodID": "p" * 129}, "K8SPodID"),
    ("/v1/ip/require", {"K8SPodID": "pod\x00"}, "K8SPodID"),
    ("/v1/ip/require", {"K8SPodID": "pod\n1"}, "K8SPodID"),
    ("/v1/ip/require", {"K8SPodID": "pod\n"}, "K8SPodID"),
    ("/v1/ip/require", {"K8SNamespace": "default\n"}, "K8SNamespace"),
    ("/v1/ip/require", {"K8SApiResourceName": "web\n"}, "K8SApiResourceName"),
    ("/v1/ip/require", {"K8SClusterID": "c1\n"}, "K8SClusterID"),
    ("/v1/ip/require", {"K8SApiResourceID": "r" * 129}, "K8SApiResourceID"),
    ("/v1/ip/require", {"K8SApiResourceID": 12}, "K8SApiResourceID"),
]


@pytest.mark.parametrize(("path", "override", "field"), BAD_INPUTS)
def test_bad_field_is_code_1_naming_the_field_and_changes_nothing(v1, path, override, field):
    v1.create_pool(2, name="existing")
    v1.require("pod-existing", name="existing")
    before = (
        list(Pool.objects.values_list("id", "target", "state", "reserved_count")),
        list(Address.objects.values_list("id", "lease__pod_id")),
    )
    response = v1.post(path, changed(path, override))
    body = assert_envelope(response, 400, 1)
    assert field in body["Msg"]
    after = (
        list(Pool.objects.values_list("id", "target", "state", "reserved_count")),
        list(Address.objects.values_list("id", "lease__pod_id")),
    )
    assert after == before


@pytest.mark.parametrize(
    ("path", "missing"),
    [
        ("/v1/ippool/create", "K8SApiResourceReplicas"),
        ("/v1/ippool/create", "SubnetID"),
        ("/v1/ippool/create", "K8SClusterID"),
        ("/v1/ippool/scale", "K8SApiResourceNewReplicas"),
        ("/v1/ip/require", "K8SPodID"),
        ("/v1/ip/require", "K8SApiResourceKind"),
    ],
)
def test_missing_field_is_code_1_naming_it(v1, path, missing):
    body = changed(path, {})
    body.pop(missing)
    assert missing in assert_envelope(v1.post(path, body), 400, 1)["Msg"]
    assert not Pool.objects.exists()


def test_unknown_keys_are_ignored(v1):
    response = v1.post("/v1/ippool/create", {**CREATE, "Extra": {"x": 1}, "Annotations": []})
    assert response.json()["Code"] == 0


def test_bad_ip_in_release_is_code_1(v1):
    body = {**REQUIRE, "IP": "10.0.3"}
    assert "IP" in assert_envelope(v1.post("/v1/ip/release", body), 400, 1)["Msg"]


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[1, 2]", b'"text"', b"null", b"", b"{", b"\xff\xfe", b'{"ReqID": "x"} trailing'],
)
def test_body_that_is_not_a_json_object_is_code_1(v1, raw):
    assert_envelope(v1.post("/v1/ip/require", None, raw=raw), 400, 1)


def test_reqid_is_echoed_even_on_errors(v1):
    body = changed("/v1/ip/require", {"K8SNamespace": "BAD"})
    body["ReqID"] = "my-req-7"
    assert v1.post("/v1/ip/require", body).json()["ReqID"] == "my-req-7"


def test_missing_reqid_is_generated(v1):
    v1.create_pool(1)
    body = changed("/v1/ip/require", {})
    body.pop("ReqID")
    first = v1.post("/v1/ip/require", body).json()
    second = v1.post("/v1/ip/require", body).json()
    assert first["Code"] == 0 and len(first["ReqID"]) >= 16 and first["ReqID"] != second["ReqID"]
    assert AuditEvent.objects.filter(req_id=first["ReqID"]).exists()


def test_oversized_body_is_413_code_1(v1):
    body = {**REQUIRE, "Padding": "x" * (70 * 1024)}
    assert_envelope(v1.post("/v1/ip/require", None, raw=json.dumps(body).encode()), 413, 1)
    assert not Address.objects.exists()


def test_wrong_content_type_is_415_code_1(v1):
    raw = json.dumps(REQUIRE).encode()
    assert_envelope(v1.post("/v1/ip/require", None, raw=raw, content_type="text/plain"), 415, 1)


def test_missing_content_type_is_read_as_json(v1):
    v1.create_pool(1)
    raw = json.dumps(REQUIRE).encode()
    assert v1.post("/v1/ip/require", None, raw=raw, content_type="").json()["Code"] == 0


def test_unknown_path_is_404_envelope(v1):
    for path in ("/v1/nope", "/v1/ip/require/", "/v1/"):
        assert_envelope(v1.client.post(path, {}, format="json"), 404, 1)
        assert_envelope(v1.client.get(path), 404, 1)


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "options"])
def test_other_methods_are_405_envelope(v1, method):
    response = getattr(v1.client, method)("/v1/ip/require", HTTP_AUTHORIZATION=f"Bearer {v1.token}")
    assert_envelope(response, 405, 1)


@pytest.mark.urls("tests.support.crash_urls")
def test_unexpected_exception_is_500_code_99_envelope(v1):
    response = v1.post("/v1/test/crash", REQUIRE)
    body = assert_envelope(response, 500, 99)
    assert body["ReqID"] == "bad-1" and "boom" not in body["Msg"]
    assert AuditEvent.objects.filter(code=99, req_id="bad-1").exists()


def test_errors_raised_before_the_view_still_answer_the_envelope(v1, settings):
    settings.ALLOWED_HOSTS = ["ipresmgr.example"]
    response = v1.client.post("/v1/ip/require", REQUIRE, format="json", HTTP_HOST="evil.example")
    assert_envelope(response, 400, 1)


def test_a_post_to_an_unknown_path_is_404_even_where_csrf_is_enforced(cluster_token):
    client = APIClient(enforce_csrf_checks=True)
    response = client.post("/v1/no/such/endpoint", {}, format="json", HTTP_AUTHORIZATION=f"Bearer {cluster_token}")
    assert (response.status_code, response.json()["Code"]) == (404, 1)


@pytest.mark.parametrize("accept", ["", "*/*", "application/json", "application/json, text/plain, */*"])
def test_usual_accept_headers_get_the_envelope(v1, accept):
    v1.create_pool(1)
    client = v1.client
    headers = {"HTTP_AUTHORIZATION": f"Bearer {v1.token}", **({"HTTP_ACCEPT": accept} if accept else {})}
    response = client.post("/v1/ip/require", REQUIRE, format="json", **headers)
    assert response.json()["Code"] == 0 and response["Content-Type"].startswith("application/json")


def test_an_accept_header_that_rules_json_out_is_406_code_1_and_changes_nothing(v1):
    v1.create_pool(1)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {v1.token}", "HTTP_ACCEPT": "text/html"}
    assert_envelope(v1.client.post("/v1/ip/require", REQUIRE, format="json", **headers), 406, 1)
    assert not Address.objects.filter(lease__isnull=False).exists()


def test_a_v1_call_sets_no_console_cookie_and_ignores_a_console_session(v1, admin_client):
    """The console's middleware (sessions, CSRF, login, messages) does not run on /v1."""
    v1.create_pool(1)
    v1.client.cookies = admin_client.cookies  # an operator logged in to the console
    response = v1.post("/v1/ip/require", REQUIRE, token=None)
    assert (response.status_code, response.json()["Code"]) == (401, 2)  # a session is no token
    assert not response.cookies
    assert v1.post("/v1/ip/require", REQUIRE).json()["Code"] == 0
