"""OpenAPI declarations of the CNI IPAM plugin's two calls, the address list and the reconcile runs
(see contract/openapi.py)."""

from drf_spectacular.utils import OpenApiExample, extend_schema

from contract.ips_serializers import (
    AddressOut,
    ReleaseIPRequest,
    ReleaseIPResponse,
    RequireIPRequest,
    RequireIPResponse,
)
from contract.openapi import (
    DEMO_WORKLOAD,
    contract_responses,
    error_example,
    post_errors,
)
from contract.reads_openapi import SCOPE, list_schema
from core.choices import Code

NO_LEASE = {"IP": "", "MacAddr": "", "PortID": "", "SubnetGatewayAddr": "", "SubnetCIDR": ""}
POD = {"K8SApiResourceID": "deploy-uid-1", "K8SPodID": "pod-uid-1"}
NO_POD_MSG = "K8SPodID: This field may not be null."

REQUIRE_IP = extend_schema(
    summary="Get the pod's address",
    description=(
        "Bind an idle address of the workload's pool to the pod (the one idle longest first), or give the "
        "pod the address it already holds (CNI ADD is retried). With none idle, a Deployment, Job or "
        "CronJob may surge above its target (a surge reserves a new address, so it needs a subnet that still "
        "serves the cluster, Code 3, and room in its quota, Code 12); a StatefulSet may not."
    ),
    request={"application/json": RequireIPRequest},
    responses=contract_responses(
        RequireIPResponse, (Code.POOL_NOT_FOUND, Code.NO_ADDRESS_AVAILABLE, Code.SUBNET_EXHAUSTED)
    ),
    examples=[
        OpenApiExample("Request", value={"ReqID": "r2", **DEMO_WORKLOAD, **POD}, request_only=True),
        OpenApiExample(
            "Code 0 Success",
            value={
                "ReqID": "r2",
                "IP": "10.0.3.10",
                "MacAddr": "0a:58:1c:2e:4f:07",
                "PortID": "5b0c1e7e-3f2a-4d8b-9a61-0c9d2f4e8a17",
                "SubnetGatewayAddr": "10.0.3.1",
                "SubnetCIDR": "10.0.3.0/24",
                "Code": 0,
                "Msg": "idle address bound",
            },
            response_only=True,
            status_codes=["200"],
        ),
        *post_errors(NO_POD_MSG, fields=NO_LEASE, req_id="r2"),
        error_example(
            Code.POOL_NOT_FOUND,
            "workload demo-cluster/default/Deployment/web has no active pool",
            fields=NO_LEASE,
            req_id="r2",
        ),
        error_example(
            Code.NO_ADDRESS_AVAILABLE,
            "all 4 addresses of the pool are bound (target 3, surge limit 4)",
            fields=NO_LEASE,
            req_id="r2",
        ),
    ],
    tags=["ipam"],
)

RELEASE_IP = extend_schema(
    summary="Release the pod's address",
    description=(
        "The address bound to this pod becomes idle (or goes back to the subnet when the pool is released "
        "or above its target). Nothing bound is success: a CNI DEL must succeed. An IP bound to another "
        "pod is refused with Code 31 and nothing changes. An empty IP releases whatever the pod holds.\n\n"
        'With `"Conflict": true` (the CNI plugin\'s probe heard another MAC, `ConflictMacAddr`, answer for IP) '
        "the binding ends and the address is quarantined: it leaves its pool, which reserves a replacement when "
        "it is below its target and the subnet has room, and it is never handed out again until an operator "
        "clears it. An idle address of the workload's pool is quarantined too; one already quarantined is "
        "success with nothing to do; one bound to another pod is Code 31 and nothing changes. Conflict needs IP."
    ),
    request={"application/json": ReleaseIPRequest},
    responses=contract_responses(ReleaseIPResponse, (Code.ADDRESS_CONFLICT,)),
    examples=[
        OpenApiExample("Request", value={"ReqID": "r3", **DEMO_WORKLOAD, **POD, "IP": "10.0.3.10"}, request_only=True),
        OpenApiExample(
            "Code 0 Success",
            value={"ReqID": "r3", "Code": 0, "Msg": "released 10.0.3.10"},
            response_only=True,
            status_codes=["200"],
        ),
        OpenApiExample(
            "Request with Conflict (address in use on the wire)",
            value={
                "ReqID": "r3",
                **DEMO_WORKLOAD,
                **POD,
                "IP": "10.0.3.10",
                "Conflict": True,
                "ConflictMacAddr": "52:54:00:ab:cd:ef",
            },
            request_only=True,
        ),
        OpenApiExample(
            "Code 0 Success (quarantined)",
            value={
                "ReqID": "r3",
                "Code": 0,
                "Msg": "10.0.3.10 quarantined in subnet-demo (answered by 52:54:00:ab:cd:ef; binding ended); "
                "replacement 10.0.3.13 reserved; pool holds 3 (target 3)",
            },
            response_only=True,
            status_codes=["200"],
        ),
        *post_errors(NO_POD_MSG, req_id="r3"),
        error_example(
            Code.ADDRESS_CONFLICT,
            "IP: 10.0.3.10 is bound to another pod, not pod-uid-2; nothing released",
            req_id="r3",
        ),
    ],
    tags=["ipam"],
)

ADDRESS_ROW = {
    "IP": "10.0.3.10",
    "MacAddr": "0a:58:1c:2e:4f:07",
    "PortID": "5b0c1e7e-3f2a-4d8b-9a61-0c9d2f4e8a17",
    "NetRegionalID": "region-1",
    "SubnetID": "subnet-demo",
    "SubnetGatewayAddr": "10.0.3.1",
    "K8SClusterID": "demo-cluster",
    "K8SNamespace": "default",
    "K8SApiResourceKind": 0,
    "K8SApiResourceName": "web",
    "PoolState": "active",
    "State": "bound",
    "K8SPodID": "pod-uid-1",
    "K8SApiResourceID": "deploy-uid-1",
    "ReservedAt": "2026-10-01T14:02:00Z",
    "BoundAt": "2026-10-01T14:02:05Z",
    "IdleSince": None,
}

ADDRESSES = list_schema(
    "List reserved addresses",
    "Addresses reserved by pools, bound to a pod or idle. " + SCOPE,
    AddressOut,
    ADDRESS_ROW,
    bad_filter_msg="IP: 'not-an-ip' is not an IPv4 or IPv6 address",
)
