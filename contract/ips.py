"""The CNI IPAM plugin's two calls, the read list of reserved addresses and their holders, and the
stored reports of reconcile runs."""

from contract import ips_filters, ips_openapi
from contract.framework.fields import workload_of
from contract.framework.views import ContractView, ReadView
from contract.ips_serializers import AddressOut, ReleaseIPRequest, RequireIPRequest
from core.choices import ReqType
from leases import selectors, services

NO_ADDRESS = {"IP": "", "MacAddr": "", "PortID": "", "SubnetGatewayAddr": "", "SubnetCIDR": ""}


@ips_openapi.REQUIRE_IP
class RequireIPView(ContractView):
    request_serializer = RequireIPRequest
    req_type = ReqType.REQUIRE_IP
    answer_fields = NO_ADDRESS

    def perform(self, ctx, data):
        required = services.ip_require(
            ctx=ctx, workload=workload_of(data), pod_id=data["K8SPodID"], resource_id=data["K8SApiResourceID"]
        )
        return required.msg, {
            "IP": required.ip,
            "MacAddr": required.mac,
            "PortID": required.port_id,
            "SubnetGatewayAddr": required.gateway,
            "SubnetCIDR": required.cidr,
        }


@ips_openapi.RELEASE_IP
class ReleaseIPView(ContractView):
    request_serializer = ReleaseIPRequest
    req_type = ReqType.RELEASE_IP

    def perform(self, ctx, data):
        if data["Conflict"]:
            msg = services.ip_release_conflict(
                ctx=ctx,
                workload=workload_of(data),
                pod_id=data["K8SPodID"],
                ip=data["IP"],
                conflict_mac=data["ConflictMacAddr"],
            )
            return msg, {}
        released = services.ip_release(ctx=ctx, workload=workload_of(data), pod_id=data["K8SPodID"], ip=data["IP"])
        return (f"released {', '.join(released)}" if released else "nothing bound to this pod; nothing to do"), {}


@ips_openapi.ADDRESSES
class AddressListView(ReadView):
    serializer_class = AddressOut
    filterset_class = ips_filters.AddressFilter

    @staticmethod
    def selector(actor):
        return selectors.addresses_visible_to(actor).order_by("subnet_id", "ip_key")
