"""The CNI IPAM plugin's two calls, the read list of reserved addresses and their holders, and the
stored reports of reconcile runs."""

from leases import filters, openapi, selectors, services
from leases.serializers import AddressOut, ReconcileRunOut, ReleaseIPRequest, RequireIPRequest
from pools.api.fields import workload_of
from pools.api.views import ContractView, ReadView
from pools.choices import ReqType

NO_ADDRESS = {"IP": "", "MacAddr": "", "PortID": "", "SubnetGatewayAddr": "", "SubnetCIDR": ""}


@openapi.REQUIRE_IP
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


@openapi.RELEASE_IP
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


@openapi.ADDRESSES
class AddressListView(ReadView):
    serializer_class = AddressOut
    filterset_class = filters.AddressFilter

    @staticmethod
    def selector(actor):
        return selectors.addresses_visible_to(actor).order_by("subnet_id", "ip_key")


@openapi.RECONCILE_RUNS
class ReconcileRunListView(ReadView):
    serializer_class = ReconcileRunOut
    filterset_class = filters.ReconcileRunFilter

    @staticmethod
    def selector(actor):
        return selectors.reconcile_runs_visible_to(actor)
