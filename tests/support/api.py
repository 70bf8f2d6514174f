"""What most tests start from: the names of the test world, a caller of /v1 as the Go
clients call it, and a subnet or a lease in one line."""

from __future__ import annotations

from django.db import connection
from rest_framework.test import APIClient

from core.choices import AdminAction
from core.domain import COMMAND_LINE, CallContext
from leases.models import Lease
from pools import services

CLUSTER = "c1"
REGION = "region-1"
SUBNET = "subnet-a"
CIDR = "10.0.3.0/24"
GATEWAY = "10.0.3.1"


def command_ctx(action=AdminAction.SUBNET_CREATE) -> CallContext:
    return CallContext(actor=COMMAND_LINE, admin_action=action)


def lease_of(ip: str) -> Lease | None:
    """The lease on the reserved address `ip`, or None when it is idle (or not reserved)."""
    return Lease.objects.filter(address__ip=ip).first()


def holder(ip: str) -> str | None:
    """The pod that holds the reserved address `ip`, or None."""
    lease = lease_of(ip)
    return lease.pod_id if lease else None


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def make_subnet(subnet_id=SUBNET, cidr=CIDR, gateway=GATEWAY, region=REGION, exclusions=None):
    subnet, _ = services.subnet_create(
        ctx=command_ctx(),
        net_regional_id=region,
        subnet_id=subnet_id,
        cidr=cidr,
        gateway=gateway,
        exclusions=exclusions or [],
    )
    return subnet


class V1:
    """Calls the /v1 contract with a token, the way the Go clients do."""

    def __init__(self, token: str | None):
        self.client = APIClient()
        self.token = token

    def post(
        self, path: str, body, *, token: str | None = ..., content_type="application/json", raw: bytes | None = None
    ):
        token = self.token if token is ... else token
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        if raw is not None:
            return self.client.generic("POST", path, raw, content_type=content_type, **headers)
        return self.client.post(path, body, format="json", **headers)

    @staticmethod
    def workload(name="web", kind=0, namespace="default", cluster=CLUSTER) -> dict:
        return {
            "K8SClusterID": cluster,
            "K8SNamespace": namespace,
            "K8SApiResourceKind": kind,
            "K8SApiResourceName": name,
        }

    def create_pool(self, replicas=3, *, subnet_id=SUBNET, gateway=GATEWAY, region=REGION, req_id="req-create", **wl):
        body = {
            "ReqID": req_id,
            **self.workload(**wl),
            "K8SApiResourceReplicas": replicas,
            "NetRegionalID": region,
            "SubnetID": subnet_id,
            "SubnetGatewayAddr": gateway,
        }
        return self.post("/v1/ippool/create", body)

    def scale_pool(self, new, old=0, **wl):
        body = {
            "ReqID": "req-scale",
            **self.workload(**wl),
            "K8SApiResourceOldReplicas": old,
            "K8SApiResourceNewReplicas": new,
        }
        return self.post("/v1/ippool/scale", body)

    def release_pool(self, **wl):
        return self.post("/v1/ippool/release", {"ReqID": "req-release-pool", **self.workload(**wl)})

    def require(self, pod, *, resource_id="rid-1", req_id="req-require", **wl):
        body = {"ReqID": req_id, **self.workload(**wl), "K8SApiResourceID": resource_id, "K8SPodID": pod}
        return self.post("/v1/ip/require", body)

    def release(self, pod, ip="", *, resource_id="rid-1", **wl):
        body = {
            "ReqID": "req-release",
            **self.workload(**wl),
            "K8SApiResourceID": resource_id,
            "K8SPodID": pod,
            "IP": ip,
        }
        return self.post("/v1/ip/release", body)
