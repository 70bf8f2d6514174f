"""The OpenAPI document: valid, complete for every /v1 operation, and the docs pages work offline."""

from __future__ import annotations

import pytest
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from core.choices import HTTP_STATUS_BY_CODE, Code, Kind, ReqType

# What SPEC.md's Codes table says each call can answer, besides 0, 1, 2, 50 and 99.
CODES_BY_OPERATION = {
    "/v1/ippool/create": {Code.FORBIDDEN, Code.SUBNET_NOT_FOUND, Code.SUBNET_MISMATCH, Code.SUBNET_EXHAUSTED}
    | {Code.POOL_CONFLICT},
    "/v1/ippool/release": {Code.FORBIDDEN},
    "/v1/ippool/scale": {Code.FORBIDDEN, Code.POOL_NOT_FOUND, Code.SUBNET_EXHAUSTED},
    "/v1/ip/require": {Code.FORBIDDEN, Code.POOL_NOT_FOUND, Code.NO_ADDRESS_AVAILABLE, Code.SUBNET_EXHAUSTED},
    "/v1/ip/release": {Code.FORBIDDEN, Code.ADDRESS_CONFLICT},
    "/v1/subnets": {Code.FORBIDDEN},
}
ALWAYS = {Code.INVALID_REQUEST, Code.UNAUTHENTICATED, Code.UNAVAILABLE, Code.INTERNAL}


def ref_of(prop: dict) -> str:
    return prop["$ref"] if "$ref" in prop else prop["allOf"][0]["$ref"]


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content
    return response.json()


def test_schema_is_valid_openapi(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")


def test_no_helper_enum_leaks_into_the_schemas(schema):
    """drf-spectacular's BlankEnum and NullEnum are written out where they are used."""
    assert not {"BlankEnum", "NullEnum"} & set(schema["components"]["schemas"])
    assert "BlankEnum" not in str(schema) and "NullEnum" not in str(schema)
    admin_action = schema["components"]["schemas"]["Event"]["properties"]["AdminAction"]
    assert {"type": "string", "enum": [""]} in admin_action["oneOf"]


def test_redoc_and_swagger_name_nothing_outside_the_server(db):
    redoc = APIClient().get("/api/redoc/").content.decode()
    assert "fonts.googleapis" not in redoc and "Content-Security-Policy" in redoc
    swagger = APIClient().get("/api/docs/").content.decode()
    assert '"validatorUrl": null' in swagger


def test_schema_and_docs_need_no_token(db):
    for path in ("/api/schema/", "/api/docs/", "/api/redoc/"):
        assert APIClient().get(path).status_code == 200, path


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_load_their_assets_locally(db, path):
    html = APIClient().get(path).content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()


def test_sidecar_assets_are_served(db, settings):
    response = APIClient().get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert response.status_code == 200


@pytest.mark.parametrize(("name", "choices"), [("Code", Code), ("K8SApiResourceKind", Kind), ("ReqType", ReqType)])
def test_wire_enums_list_every_value_with_its_meaning(schema, name, choices):
    enum = schema["components"]["schemas"][name]
    assert enum["enum"] == [int(value) for value in choices]
    assert enum["x-enum-varnames"] == [value.label for value in choices]
    for value in choices:
        assert f"`{int(value)}` {value.label}: " in enum["description"]


def test_every_operation_is_behind_the_bearer_scheme(schema):
    assert schema["components"]["securitySchemes"]["BearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["BearerToken"]["description"],
    }
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == [{"BearerToken": []}], (method, path)


@pytest.mark.parametrize("path", sorted(CODES_BY_OPERATION))
def test_every_post_documents_its_body_answers_and_examples(schema, path):
    operation = schema["paths"][path]["post"]
    body = operation["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].startswith("#/components/schemas/")
    assert "Request" in body["examples"]
    responses = operation["responses"]
    for code in ALWAYS | CODES_BY_OPERATION[path]:
        status = str(HTTP_STATUS_BY_CODE[code])
        assert f"Code {int(code)} {code.label}" in responses[status]["description"], (path, code)
    assert {"413", "415"} <= set(responses)
    success = responses["200"]["content"]["application/json"]["examples"]
    assert next(iter(success.values()))["value"]["Code"] == 0


def test_contract_requests_keep_the_original_field_names_and_types(schema):
    create = schema["components"]["schemas"]["CreateIPPoolRequest"]
    assert set(create["properties"]) == {
        "ReqID",
        "K8SApiResourceKind",
        "K8SClusterID",
        "K8SNamespace",
        "K8SApiResourceName",
        "K8SApiResourceReplicas",
        "NetRegionalID",
        "SubnetID",
        "SubnetGatewayAddr",
    }
    assert create["properties"]["K8SApiResourceReplicas"]["type"] == "integer"
    assert ref_of(create["properties"]["K8SApiResourceKind"]) == "#/components/schemas/K8SApiResourceKind"
    require = schema["components"]["schemas"]["RequireIPResponse"]
    assert set(require["properties"]) == {
        "ReqID",
        "IP",
        "MacAddr",
        "PortID",
        "SubnetGatewayAddr",
        "SubnetCIDR",
        "Code",
        "Msg",
    }
    webhook = schema["components"]["schemas"]["WebhookResponse"]
    assert ref_of(webhook["properties"]["ReqType"]) == "#/components/schemas/ReqType"
    assert ref_of(webhook["properties"]["Code"]) == "#/components/schemas/Code"


@pytest.mark.parametrize(
    ("path", "filters"),
    [
        ("/v1/subnets", {"NetRegionalID", "SubnetID", "IPVersion"}),
        ("/v1/pools", {"K8SClusterID", "K8SNamespace", "K8SApiResourceKind", "K8SApiResourceName", "State"}),
        (
            "/v1/addresses",
            {"K8SClusterID", "K8SNamespace", "K8SApiResourceKind", "K8SApiResourceName", "State", "SubnetID"}
            | {"IP", "MacAddr", "PortID", "K8SPodID"},
        ),
        (
            "/v1/events",
            {"Since", "Until", "K8SClusterID", "K8SApiResourceName", "K8SPodID", "IP", "ReqType", "Code", "ReqID"},
        ),
    ],
)
def test_read_endpoints_document_filters_pages_and_an_example(schema, path, filters):
    operation = schema["paths"][path]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert filters | {"Limit", "Offset", "Ordering", "ReqID"} <= names
    page = operation["responses"]["200"]["content"]["application/json"]
    example = next(iter(page["examples"].values()))["value"]
    assert set(example) == {"ReqID", "Code", "Msg", "Count", "CountExact", "Next", "Previous", "Results"}
    assert len(example["Results"]) == 1
    assert {"400", "401", "503"} <= set(operation["responses"])
