"""What the OpenAPI document says beyond the serializers: the bearer scheme, the meaning of every
Code, K8SApiResourceKind and ReqType value, the error answers each endpoint can give, and examples.

The webhook's pool calls are declared here; contract/ips_openapi.py declares the IPAM calls with the same
helpers. The examples use the demo data (`manage.py demo`), so they succeed against a demo server."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema

from contract.framework.envelope import UNAVAILABLE_MSG, WEBHOOK_REQ_TYPES, as_service_error
from contract.serializers import CreateIPPoolRequest, ReleaseIPPoolRequest, ScaleIPPoolRequest, WebhookResponse
from core.choices import HTTP_STATUS_BY_CODE, Code, Kind, ReqType
from pools.auth import NO_TOKEN_MSG

# What each value means, for the enum descriptions (SPEC.md, "Codes" and "Words").
CODE_MEANING = {
    Code.SUCCESS: "done, or nothing to do (an idempotent repeat)",
    Code.INVALID_REQUEST: "not a JSON object, a missing or ill-typed field, a value out of range, a bad filter; "
    "Msg names the field (HTTP 400; 413 body too large; 415 not JSON)",
    Code.UNAUTHENTICATED: "no token, or an unknown or revoked token",
    Code.FORBIDDEN: "the token may not act on this K8SClusterID, or is not an operator token; or create, scale or "
    "surge in a subnet that does not grant the cluster (Msg names the subnet)",
    Code.SUBNET_NOT_FOUND: "create names a SubnetID not registered under that NetRegionalID",
    Code.SUBNET_MISMATCH: "SubnetGatewayAddr differs from the registered gateway",
    Code.SUBNET_EXHAUSTED: "the subnet has too few free addresses to create or grow the pool, or the growth would "
    "pass the cluster's quota in the subnet (Msg names the quota); nothing is reserved",
    Code.POOL_NOT_FOUND: "scale or require for a workload with no active pool",
    Code.POOL_CONFLICT: "create for a workload whose active pool is in another subnet",
    Code.NO_ADDRESS_AVAILABLE: "require: every address of the pool is bound and no surge is left",
    Code.ADDRESS_CONFLICT: "release names an IP bound to a different pod; nothing changes",
    Code.UNAVAILABLE: "the database is unreachable or timed out; retry",
    Code.INTERNAL: "a bug; never expected",
}
KIND_MEANING = {
    Kind.DEPLOYMENT: "Deployment (may surge above its replica count while it rolls)",
    Kind.STATEFULSET: "StatefulSet (no surge: it rolls one pod at a time)",
    Kind.JOB: "Job",
    Kind.CRONJOB: "CronJob",
}
REQ_TYPE_MEANING = {
    ReqType.CREATE_IP_POOL: "CreateIPPool: POST /v1/ippool/create",
    ReqType.RELEASE_IP_POOL: "ReleaseIPPool: POST /v1/ippool/release",
    ReqType.SCALE_IP_POOL: "ScaleIPPool: POST /v1/ippool/scale",
    ReqType.REQUIRE_IP: "RequireIP: POST /v1/ip/require (audit log only)",
    ReqType.RELEASE_IP: "ReleaseIP: POST /v1/ip/release (audit log only)",
}
ENUMS = {
    "Code": (Code, CODE_MEANING, "IPResMgrErrorCode: 0 is success, anything else a refusal."),
    "K8SApiResourceKind": (Kind, KIND_MEANING, "K8SApiResourceKindType: the workload's kind."),
    "ReqType": (ReqType, REQ_TYPE_MEANING, "WB2IPResMgrRequestType, extended with the IPAM calls."),
}


# drf-spectacular names the "" of a blank choice and the null of a nullable one as schemas of
# their own; they are no types of ours, so they are written out where they are used.
INLINED_ENUMS = {"BlankEnum": {"type": "string", "enum": [""]}, "NullEnum": {"enum": [None]}}


def _inline_helper_enums(node):
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        name = ref.rsplit("/", 1)[-1] if ref.startswith("#/components/schemas/") else None
        if name in INLINED_ENUMS:
            return dict(INLINED_ENUMS[name])
        return {key: _inline_helper_enums(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline_helper_enums(item) for item in node]
    return node


def enum_postprocessing_hook(result, generator, request, public):
    """Describe what every value of the wire enums means, with names for client generators; write
    out drf-spectacular's BlankEnum and NullEnum where they are used."""
    result = _inline_helper_enums(result)
    for name in INLINED_ENUMS:
        result.get("components", {}).get("schemas", {}).pop(name, None)
    schemas = result.get("components", {}).get("schemas", {})
    for name, (choices, meaning, summary) in ENUMS.items():
        schema = schemas.get(name)
        if schema is None:
            continue
        lines = [f"* `{int(value)}` {value.label}: {meaning[value]}" for value in choices]
        schema["description"] = summary + "\n\n" + "\n".join(lines)
        schema["x-enum-varnames"] = [value.label for value in choices]
        schema["x-enum-descriptions"] = [meaning[value] for value in choices]
    return result


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer <token>` (pools.auth.BearerTokenAuthentication)."""

    target_class = "pools.auth.BearerTokenAuthentication"
    name = "BearerToken"

    def get_security_definition(self, auto_schema):
        scheme = build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")
        scheme["description"] = (
            "A cluster token (`manage.py create_cluster` or `create_token --cluster-id`) acts on its own "
            "K8SClusterID only; an operator token (`create_token --operator`) acts on all clusters and "
            "registers subnets. No or an unknown token: Code 2, HTTP 401."
        )
        return scheme


# Error answers ---------------------------------------------------------------------------------


def _code_lines(codes) -> str:
    return "\n".join(f"* Code {int(code)} {code.label}: {CODE_MEANING[code]}" for code in codes)


def error_responses(serializer, codes, *, extra_status: dict[int, str] | None = None) -> dict:
    """One documented answer per HTTP status the `codes` map to, each listing its Codes.

    `extra_status` adds statuses outside HTTP_STATUS_BY_CODE, e.g. {413: "..."} for Code 1."""
    by_status: dict[int, list[Code]] = {}
    for code in codes:
        by_status.setdefault(HTTP_STATUS_BY_CODE[code], []).append(code)
    responses = {
        status: OpenApiResponse(serializer, description=_code_lines(status_codes))
        for status, status_codes in sorted(by_status.items())
    }
    for status, text in (extra_status or {}).items():
        responses[status] = OpenApiResponse(serializer, description=text)
    return responses


BODY_STATUSES = {
    413: "Code 1 InvalidRequest: the body is larger than the server accepts.",
    415: "Code 1 InvalidRequest: Content-Type is not application/json.",
}
ALWAYS = (Code.INVALID_REQUEST, Code.UNAUTHENTICATED, Code.UNAVAILABLE, Code.INTERNAL)


def contract_responses(serializer, codes) -> dict:
    """Responses of a /v1 contract POST: success, the common refusals and `codes`."""
    responses = {200: OpenApiResponse(serializer, description="Code 0 Success: " + CODE_MEANING[Code.SUCCESS])}
    responses.update(error_responses(serializer, (*ALWAYS, Code.FORBIDDEN, *codes), extra_status=BODY_STATUSES))
    return responses


# Example answers. tests/contract/test_openapi_examples.py replays each against the demo data and compares it
# with the real answer; the Msg of the two it cannot provoke (Code 50, 99) is the code's own.

DEMO_WORKLOAD = {
    "K8SApiResourceKind": int(Kind.DEPLOYMENT),
    "K8SClusterID": "demo-cluster",
    "K8SNamespace": "default",
    "K8SApiResourceName": "web",
}
FORBIDDEN_MSG = "K8SClusterID: this token may not act on cluster 'other-cluster'"
TOO_LARGE_MSG = as_service_error(RequestDataTooBig()).msg
NOT_JSON_MSG = "Content-Type must be application/json, not text/plain"
NOT_GRANTED_MSG = (
    "K8SClusterID: cluster 'demo-cluster' may not use subnet subnet-demo; an operator must grant it "
    "(manage.py grant_subnet); nothing reserved"
)
NOT_GRANTED_V6_MSG = NOT_GRANTED_MSG.replace("subnet subnet-demo;", "subnet subnet-demo-v6;")


def error_example(
    code: Code,
    msg: str,
    *,
    status: int | None = None,
    req_type: ReqType | None = None,
    fields: dict | None = None,
    case: str = "",
    req_id: str = "r1",
) -> OpenApiExample:
    """An example refusal, as `answer()` builds it. `case` tells apart two examples of one Code."""
    value = {"ReqID": req_id}
    if req_type in WEBHOOK_REQ_TYPES:
        value["ReqType"] = int(req_type)
    value.update(fields or {})
    value.update({"Code": int(code), "Msg": msg})
    return OpenApiExample(
        f"Code {int(code)} {code.label}" + (f": {case}" if case else ""),
        value=value,
        response_only=True,
        status_codes=[str(status or HTTP_STATUS_BY_CODE[code])],
    )


def server_errors(**example) -> list[OpenApiExample]:
    """Code 50 and Code 99, with the Msg the code gives them."""
    return [
        error_example(Code.UNAVAILABLE, UNAVAILABLE_MSG, **example),
        error_example(Code.INTERNAL, as_service_error(RuntimeError()).msg, **example),
    ]


def post_errors(invalid_msg: str, *, forbidden_msg: str = FORBIDDEN_MSG, **example) -> list[OpenApiExample]:
    """The refusals every /v1 POST can answer: a bad field, a body too big or not JSON, no token,
    a token that may not, and the server's own trouble."""
    return [
        error_example(Code.INVALID_REQUEST, invalid_msg, **example),
        error_example(Code.INVALID_REQUEST, TOO_LARGE_MSG, status=413, **example),
        error_example(Code.INVALID_REQUEST, NOT_JSON_MSG, status=415, **example),
        error_example(Code.UNAUTHENTICATED, NO_TOKEN_MSG, **example),
        error_example(Code.FORBIDDEN, forbidden_msg, **example),
        *server_errors(**example),
    ]


def _webhook_examples(req_type: ReqType, req_id: str, request: dict, success_msg: str, errors: list[tuple]):
    """`errors`: (Code, Msg) or (Code, Msg, case) of the refusals particular to the call. The ReqIDs
    follow docs/calling.md: r1 create, r2 require, r3 release IP, r4 scale, r5 release pool."""
    examples = [
        OpenApiExample("Request", value={"ReqID": req_id, **request}, request_only=True),
        OpenApiExample(
            "Code 0 Success",
            value={"ReqID": req_id, "ReqType": int(req_type), "Code": 0, "Msg": success_msg},
            response_only=True,
            status_codes=["200"],
        ),
        *post_errors(
            "K8SApiResourceKind: must be 0 (Deployment), 1 (StatefulSet), 2 (Job) or 3 (CronJob)",
            req_type=req_type,
            req_id=req_id,
        ),
    ]
    for code, msg, *case in errors:
        examples.append(error_example(code, msg, case=case[0] if case else "", req_type=req_type, req_id=req_id))
    return examples


CREATE_IP_POOL = extend_schema(
    summary="Create a workload's IP pool",
    description=(
        "Reserve `K8SApiResourceReplicas` addresses of the subnet for the workload, all or nothing. "
        "A repeated create in the same subnet succeeds and sets the pool's target to the new count. "
        "A new pool needs a subnet that serves the cluster (Code 3 otherwise, even for 0 replicas), and the "
        "addresses must fit the cluster's quota there, if it has one (Code 12)."
    ),
    request={"application/json": CreateIPPoolRequest},
    responses=contract_responses(
        WebhookResponse, (Code.SUBNET_NOT_FOUND, Code.SUBNET_MISMATCH, Code.SUBNET_EXHAUSTED, Code.POOL_CONFLICT)
    ),
    examples=_webhook_examples(
        ReqType.CREATE_IP_POOL,
        "r1",
        {
            **DEMO_WORKLOAD,
            "K8SApiResourceReplicas": 3,
            "NetRegionalID": "region-1",
            "SubnetID": "subnet-demo",
            "SubnetGatewayAddr": "10.0.3.1",
        },
        "pool ready: target 3, 3 addresses reserved",
        [
            (Code.SUBNET_NOT_FOUND, "SubnetID: 'subnet-x' is not registered under NetRegionalID 'region-1'"),
            (
                Code.SUBNET_MISMATCH,
                "SubnetGatewayAddr: 10.0.3.254 differs from the gateway 10.0.3.1 registered for subnet-demo",
            ),
            (
                Code.SUBNET_EXHAUSTED,
                "subnet subnet-demo (10.0.3.0/24) has too few free addresses; 500 needed; nothing reserved",
            ),
            (
                Code.POOL_CONFLICT,
                "workload demo-cluster/default/Deployment/web already has an active pool in subnet subnet-demo-v6",
            ),
            (Code.FORBIDDEN, NOT_GRANTED_V6_MSG, "subnet not granted"),
            (
                Code.SUBNET_EXHAUSTED,
                "quota of cluster 'demo-cluster' in subnet subnet-demo is 2 addresses; 0 reserved, 3 more needed; "
                "nothing reserved",
                "quota",
            ),
        ],
    ),
    tags=["webhook"],
)

RELEASE_IP_POOL = extend_schema(
    summary="Release a workload's IP pool",
    description=(
        "The pool stops being active: idle addresses go back to the subnet, bound ones when their pods "
        "release them. An unknown workload is success with nothing to do."
    ),
    request={"application/json": ReleaseIPPoolRequest},
    responses=contract_responses(WebhookResponse, ()),
    examples=_webhook_examples(
        ReqType.RELEASE_IP_POOL, "r5", DEMO_WORKLOAD, "pool released; 0 addresses still bound or in grace", []
    ),
    tags=["webhook"],
)

SCALE_IP_POOL = extend_schema(
    summary="Scale a workload's IP pool",
    description=(
        "The pool's target becomes `K8SApiResourceNewReplicas`. Growing reserves addresses, all or nothing; "
        "shrinking returns idle addresses beyond the target at once. Growing needs a subnet that still serves "
        "the cluster (Code 3) and room in the cluster's quota there (Code 12); shrinking never does."
    ),
    request={"application/json": ScaleIPPoolRequest},
    responses=contract_responses(WebhookResponse, (Code.POOL_NOT_FOUND, Code.SUBNET_EXHAUSTED)),
    examples=_webhook_examples(
        ReqType.SCALE_IP_POOL,
        "r4",
        {**DEMO_WORKLOAD, "K8SApiResourceOldReplicas": 3, "K8SApiResourceNewReplicas": 5},
        "pool scaled: target 5, 5 addresses reserved",
        [
            (Code.POOL_NOT_FOUND, "workload demo-cluster/default/Deployment/web has no active pool"),
            (
                Code.SUBNET_EXHAUSTED,
                "subnet subnet-demo (10.0.3.0/24) has too few free addresses; 497 needed; nothing reserved",
            ),
            (Code.FORBIDDEN, NOT_GRANTED_MSG, "subnet not granted"),
            (
                Code.SUBNET_EXHAUSTED,
                "quota of cluster 'demo-cluster' in subnet subnet-demo is 4 addresses; 3 reserved, 2 more needed; "
                "nothing reserved",
                "quota",
            ),
        ],
    ),
    tags=["webhook"],
)
