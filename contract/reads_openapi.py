"""OpenAPI declarations of the read APIs and of POST /v1/subnets (see pools/openapi.py)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view

from contract.framework.fields import Envelope
from contract.openapi import (
    ALWAYS,
    BODY_STATUSES,
    CODE_MEANING,
    error_example,
    error_responses,
    post_errors,
    server_errors,
)
from contract.serializers import (
    EventOut,
    PoolOut,
    QuarantinedAddressOut,
    SubnetCreateRequest,
    SubnetCreateResponse,
    SubnetOut,
)
from core.bounded_reads import too_broad_msg
from core.choices import Code
from pools.auth import NO_TOKEN_MSG


def paginated_schema(results_schema: dict) -> dict:
    """The /v1 envelope around one page of a list."""
    return {
        "type": "object",
        "required": ["ReqID", "Code", "Msg", "Count", "CountExact", "Next", "Previous", "Results"],
        "properties": {
            "ReqID": {"type": "string", "description": "The query's ReqID, or one the server made.", "example": "r7"},
            "Code": {"allOf": [{"$ref": "#/components/schemas/Code"}], "example": 0},
            "Msg": {
                "type": "string",
                "description": "`<rows on this page> of <Count>`, or `of more than <Count>`.",
                "example": "1 of 1",
            },
            "Count": {
                "type": "integer",
                "description": "Rows matching the filters, over all pages, when `CountExact`; otherwise more "
                f"than this many (counting stops at the bound, {settings.IPRESMGR_READ_COUNT_BOUND} by default: "
                "IPRESMGR_READ_COUNT_BOUND).",
                "example": 1,
            },
            "CountExact": {
                "type": "boolean",
                "description": "true: `Count` is the number of matching rows. false: more rows than `Count` match; "
                "narrow the filters for an exact count.",
                "example": True,
            },
            "Next": {
                "type": "string",
                "format": "uri",
                "nullable": True,
                "description": "The next page, or null on the last one (on /v1/events: by `Cursor`).",
                "example": None,
            },
            "Previous": {
                "type": "string",
                "format": "uri",
                "nullable": True,
                "description": "The previous page.",
                "example": None,
            },
            "Results": results_schema,
        },
    }


def pagination_parameters(default_limit: int, max_limit: int, max_offset: int = 2**31 - 1) -> list[dict]:
    return [
        {
            "name": "Limit",
            "in": "query",
            "required": False,
            "description": f"Rows per page, 1-{max_limit} (default {default_limit}).",
            "schema": {"type": "integer", "minimum": 1, "maximum": max_limit},
        },
        {
            "name": "Offset",
            "in": "query",
            "required": False,
            "description": "Rows to skip (default 0).",
            "schema": {"type": "integer", "minimum": 0, "maximum": max_offset},
        },
    ]


def keyset_pagination_parameters(default_limit: int, max_limit: int, max_offset: int) -> list[dict]:
    limit, offset = pagination_parameters(default_limit, max_limit, max_offset)
    offset["description"] = (
        f"Rows to skip (default 0), at most {max_offset} (IPRESMGR_READ_OFFSET_MAX); deeper, follow `Next`. "
        "Not with `Cursor`."
    )
    cursor = {
        "name": "Cursor",
        "in": "query",
        "required": False,
        "description": "Where the page starts, as `Next` and `Previous` give it (keyset paging: a page deep in the "
        "log costs what the first one does, and rows written meanwhile shift nothing). Keep the other parameters "
        "as they were.",
        "schema": {"type": "string"},
    }
    return [limit, offset, cursor]


REQ_ID_PARAM = OpenApiParameter(
    "ReqID", OpenApiTypes.STR, description="Echoed in the answer's ReqID (at most 128 characters)."
)
READ_ERRORS = error_responses(Envelope, ALWAYS)
SCOPE = "A cluster token sees its own cluster's rows only; an operator token sees all clusters."


def _page_example(name: str, row: dict) -> OpenApiExample:
    """One row; drf-spectacular wraps it in a page using the examples of paginated_schema."""
    return OpenApiExample(name, value=row, response_only=True, status_codes=["200"])


def list_schema(summary: str, description: str, serializer, row: dict, *, bad_filter_msg: str, refusals: tuple = ()):
    """A read list: one example row, and the refusals (`bad_filter_msg` answers a filter that does
    not parse; `refusals`, examples of the list's own)."""
    return extend_schema(
        summary=summary,
        description=description,
        parameters=[REQ_ID_PARAM],
        responses={200: serializer, **READ_ERRORS},
        examples=[
            _page_example("A page", row),
            error_example(Code.INVALID_REQUEST, bad_filter_msg),
            *refusals,
            error_example(Code.UNAUTHENTICATED, NO_TOKEN_MSG),
            *server_errors(),
        ],
        tags=["read"],
    )


POOL_ROW = {
    "K8SClusterID": "demo-cluster",
    "K8SNamespace": "default",
    "K8SApiResourceKind": 0,
    "K8SApiResourceName": "web",
    "NetRegionalID": "region-1",
    "SubnetID": "subnet-demo",
    "State": "active",
    "Target": 3,
    "Reserved": 3,
    "Bound": 1,
    "CreatedAt": "2026-10-01T14:02:00Z",
    "UpdatedAt": "2026-10-01T14:02:00Z",
    "ReleasedAt": None,
}
EVENT_ROW = {
    "ID": 42,
    "At": "2026-10-01T14:02:05Z",
    "ReqType": 3,
    "AdminAction": "",
    "ReqID": "r2",
    "K8SClusterID": "demo-cluster",
    "K8SNamespace": "default",
    "K8SApiResourceKind": 0,
    "K8SApiResourceName": "web",
    "K8SPodID": "pod-uid-1",
    "IP": "10.0.3.10",
    "SubnetID": "subnet-demo",
    "Code": 0,
    "Msg": "idle address bound",
    "Actor": "cluster demo-cluster token ipr_AbCdEfGh",
    "Detail": {},
}
SUBNET_ROW = {
    "NetRegionalID": "region-1",
    "SubnetID": "subnet-demo",
    "CIDR": "10.0.3.0/24",
    "Gateway": "10.0.3.1",
    "IPVersion": 4,
    "Exclude": ["10.0.3.2-10.0.3.9"],
    "Capacity": 245,
    "Reserved": 3,
    "Bound": 1,
    "Quarantined": 0,
    "Free": 242,
    "OpenWithoutGrants": True,
    "Clusters": [{"K8SClusterID": "demo-cluster", "Granted": False, "Quota": None, "Reserved": 3}],
    "CreatedAt": "2026-10-01T14:00:00Z",
}

POOLS = list_schema(
    "List pools",
    "Pools, active and released, with their address counts. " + SCOPE,
    PoolOut,
    POOL_ROW,
    bad_filter_msg="State: Select a valid choice. gone is not one of the available choices.",
)
QUARANTINED_ROW = {
    "IP": "10.0.3.10",
    "State": "quarantined",
    "ConflictMacAddr": "52:54:00:ab:cd:ef",
    "MacAddr": "0a:58:1c:2e:4f:09",
    "NetRegionalID": "region-1",
    "SubnetID": "subnet-demo",
    "K8SClusterID": "demo-cluster",
    "K8SNamespace": "default",
    "K8SApiResourceKind": 0,
    "K8SApiResourceName": "web",
    "K8SPodID": "pod-uid-1",
    "QuarantinedAt": "2026-10-01T14:05:00Z",
    "Reason": "in use on the wire (answered by 52:54:00:ab:cd:ef), reported by pod pod-uid-1",
}
QUARANTINED_ADDRESSES = list_schema(
    "List quarantined addresses",
    "Addresses another host answered for on the wire (the CNI plugin released them with Conflict): in no "
    "pool, never handed out until an operator clears them (console, `manage.py clear_quarantine`). "
    "A cluster token sees those taken from its own cluster's pools; an operator token sees all.",
    QuarantinedAddressOut,
    QUARANTINED_ROW,
    bad_filter_msg="IP: 'not-an-ip' is not an IPv4 or IPv6 address",
)
EVENTS_NARROW_BY = "a time window (Since, Until) or a filter such as K8SClusterID, K8SPodID, IP or Code"
OFFSET_BEYOND_MSG = (
    f"Offset: must be an integer from 0 to {settings.IPRESMGR_READ_OFFSET_MAX}; page further with the Cursor of "
    "Next, or narrow the query (Since, Until)"
)
EVENTS = list_schema(
    "Search the audit log",
    "One event per contract call and per admin change, newest first. Answers questions such as "
    "`?IP=10.0.3.7&Since=...&Until=...` (which pod held an address when). The `ReqID` parameter filters "
    "events by the ReqID of the call that wrote them (and is echoed as usual). A cluster token sees the "
    "events about its own cluster's workloads; an operator token sees all, admin changes included.\n\n"
    "The log grows by every call, so reads are bounded: `Count` is exact up to a bound (`CountExact`), "
    "pages go on by the `Cursor` in `Next` (`Offset` only up to a bound), and a query that would take "
    "longer than the read timeout is refused with Code 1 asking to narrow it (a time window, a filter): "
    "retrying it unchanged would not help, so it is never Code 50.",
    EventOut,
    EVENT_ROW,
    bad_filter_msg="Code: Select a valid choice. 7 is not one of the available choices.",
    refusals=(
        error_example(Code.INVALID_REQUEST, OFFSET_BEYOND_MSG, case="Offset beyond the bound"),
        error_example(Code.INVALID_REQUEST, too_broad_msg(EVENTS_NARROW_BY), case="query too broad"),
    ),
)

SUBNET_B_ROW = {
    "NetRegionalID": "region-1",
    "SubnetID": "subnet-b",
    "CIDR": "10.0.4.0/24",
    "Gateway": "10.0.4.1",
    "IPVersion": 4,
    "Exclude": ["10.0.4.2-10.0.4.9", "10.0.4.200"],
    "Capacity": 244,
    "Reserved": 0,
    "Bound": 0,
    "Quarantined": 0,
    "Free": 244,
    "OpenWithoutGrants": False,
    "Clusters": [{"K8SClusterID": "demo-cluster", "Granted": True, "Quota": 100, "Reserved": 0}],
    "CreatedAt": "2026-10-01T14:05:00Z",
}
SUBNET_CREATE_CODES = (*ALWAYS, Code.FORBIDDEN)
SUBNETS = extend_schema_view(
    get=list_schema(
        "List subnets with their usage and access",
        "Registered subnets with Capacity, Reserved, Bound and Free (totals, naming no workload), and who may "
        "use them. An operator token sees every subnet, with every cluster granted it or reserving addresses "
        "in it (`Clusters`: grant, quota, addresses reserved). A cluster token sees only the subnets its "
        "cluster may grow pools in (open ones and those granting it), with its own entry in `Clusters`.",
        SubnetOut,
        SUBNET_ROW,
        bad_filter_msg="IPVersion: Select a valid choice. 5 is not one of the available choices.",
    ),
    post=extend_schema(
        summary="Register a subnet and set who may use it (operator token)",
        description=(
            "Same as `manage.py create_subnet` (and `grant_subnet` / `revoke_subnet` for `Grants`). Registering "
            "the same definition again is success with nothing to do, or changes the access list when `Grants` or "
            "`OpenWithoutGrants` differ; the same SubnetID with another definition is Code 1 with HTTP 409. "
            "A network larger than an IPv4 /8 or an IPv6 /32 is refused (Code 1); only the console can force "
            "one. A cluster token gets Code 3. Every change is audited."
        ),
        request={"application/json": SubnetCreateRequest},
        responses={
            200: OpenApiResponse(SubnetCreateResponse, description="Code 0 Success: " + CODE_MEANING[Code.SUCCESS]),
            **error_responses(
                SubnetCreateResponse,
                SUBNET_CREATE_CODES,
                extra_status={
                    409: "Code 1 InvalidRequest: the SubnetID is already registered with another definition.",
                    **BODY_STATUSES,
                },
            ),
        },
        examples=[
            OpenApiExample(
                "Request",
                value={
                    "ReqID": "r6",
                    "NetRegionalID": "region-1",
                    "SubnetID": "subnet-b",
                    "CIDR": "10.0.4.0/24",
                    "Gateway": "10.0.4.1",
                    "Exclude": ["10.0.4.2-10.0.4.9", "10.0.4.200"],
                    "Grants": [{"K8SClusterID": "demo-cluster", "Quota": 100}],
                },
                request_only=True,
            ),
            OpenApiExample(
                "Code 0 Success",
                value={
                    "ReqID": "r6",
                    "Subnet": SUBNET_B_ROW,
                    "Code": 0,
                    "Msg": "subnet registered; cluster demo-cluster granted subnet subnet-b with a quota of 100 "
                    "addresses",
                },
                response_only=True,
                status_codes=["200"],
            ),
            *post_errors(
                "CIDR: '10.0.4.1/24' is not a network: 10.0.4.1/24 has host bits set",
                forbidden_msg="only an operator token may register subnets",
                fields={"Subnet": None},
                req_id="r6",
            ),
            error_example(
                Code.INVALID_REQUEST,
                "CIDR: 0.0.0.0/0 is far too large for a subnet (an IPv4 prefix shorter than /8); check the prefix "
                "length. An operator can still register it from the console (tick 'register even though the "
                "network is huge')",
                fields={"Subnet": None},
                case="network too large",
                req_id="r6",
            ),
            error_example(
                Code.INVALID_REQUEST,
                "SubnetID: 'subnet-demo' is already registered with another definition",
                status=409,
                fields={"Subnet": None},
                req_id="r6",
            ),
        ],
        tags=["subnets"],
    ),
)
