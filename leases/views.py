"""The CNI IPAM plugin's two calls."""

from leases import openapi, services
from leases.serializers import ReleaseIPRequest, RequireIPRequest
from pools.api import ContractView
from pools.choices import ReqType


@openapi.REQUIRE_IP
class RequireIPView(ContractView):
    request_serializer = RequireIPRequest
    req_type = ReqType.REQUIRE_IP
    response_defaults = {"IP": "", "MacAddr": "", "PortID": "", "SubnetGatewayAddr": "", "SubnetCIDR": ""}

    def perform(self, ctx, serializer):
        data = serializer.validated_data
        lease = services.ip_require(
            ctx=ctx, workload=serializer.workload(), pod_id=data["K8SPodID"], resource_id=data["K8SApiResourceID"]
        )
        extra = {
            "IP": lease.ip,
            "MacAddr": lease.mac,
            "PortID": lease.port_id,
            "SubnetGatewayAddr": lease.gateway,
            "SubnetCIDR": lease.cidr,
        }
        return lease.msg, extra


@openapi.RELEASE_IP
class ReleaseIPView(ContractView):
    request_serializer = ReleaseIPRequest
    req_type = ReqType.RELEASE_IP

    def perform(self, ctx, serializer):
        data = serializer.validated_data
        released = services.ip_release(ctx=ctx, workload=serializer.workload(), pod_id=data["K8SPodID"], ip=data["IP"])
        return (f"released {', '.join(released)}" if released else "nothing bound to this pod; nothing to do"), {}
