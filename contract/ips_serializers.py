"""Request and answer shapes of the CNI IPAM plugin's calls (contract section 3), the address rows
of the read API, and the stored reconcile runs."""

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from contract.framework.fields import (
    ContractRequest,
    Envelope,
    StrictBooleanField,
    canonical_ip_field,
    mac_field,
    opaque_id_field,
)
from core.choices import Kind, PoolState
from leases.selectors import lease_of


class RequireIPRequest(ContractRequest):
    """IPAM2IPResMgrRequireIPReq."""

    K8SApiResourceID = opaque_id_field(
        allow_blank=True, required=False, default="", help_text="Workload UID; may be empty."
    )
    K8SPodID = opaque_id_field(help_text="Pod UID (not the pod name).")


class ReleaseIPRequest(RequireIPRequest):
    """IPAM2IPResMgrReleaseIPReq, with the two optional fields of a conflict found on the wire."""

    IP = canonical_ip_field(
        allow_blank=True, required=False, default="", help_text="Empty: whatever this pod holds in the pool."
    )
    Conflict = StrictBooleanField(
        required=False,
        default=False,
        help_text="true: another host answers for IP on the wire (the CNI plugin's probe). The binding ends and "
        "the address is quarantined, never handed out until an operator clears it. Needs IP. Not in the original "
        "contract.",
    )
    ConflictMacAddr = mac_field(
        required=False, default="", help_text="With Conflict: the MAC that answered for IP (optional)."
    )

    def validate(self, data):
        if data["Conflict"] and not data["IP"]:
            raise serializers.ValidationError({"IP": "required with Conflict: name the address found in use"})
        return data


class RequireIPResponse(Envelope):
    """IPResMgr2IPAMRequireIPRes."""

    IP = serializers.CharField(allow_blank=True)
    MacAddr = serializers.CharField(allow_blank=True)
    PortID = serializers.CharField(allow_blank=True)
    SubnetGatewayAddr = serializers.CharField(allow_blank=True)
    SubnetCIDR = serializers.CharField(
        allow_blank=True,
        help_text="The subnet's CIDR (e.g. 10.0.3.0/24): its prefix length is the pod address's. "
        "Not in the original contract; Go clients ignore it.",
    )


class ReleaseIPResponse(Envelope):
    """IPResMgr2IPAMReleaseIPRes."""


@extend_schema_serializer(component_name="Address")
class AddressOut(serializers.Serializer):
    IP = serializers.CharField(source="ip")
    MacAddr = serializers.CharField(source="mac")
    PortID = serializers.UUIDField(source="port_id")
    NetRegionalID = serializers.CharField(source="net_regional_id")
    SubnetID = serializers.CharField(source="subnet.subnet_id")
    SubnetGatewayAddr = serializers.CharField(source="subnet.gateway")
    K8SClusterID = serializers.CharField(source="pool.k8s_cluster_id")
    K8SNamespace = serializers.CharField(source="pool.namespace")
    K8SApiResourceKind = serializers.ChoiceField(source="pool.kind", choices=Kind.choices)
    K8SApiResourceName = serializers.CharField(source="pool.name")
    PoolState = serializers.ChoiceField(source="pool.state", choices=PoolState.choices)
    State = serializers.SerializerMethodField(help_text="bound (to K8SPodID) or idle.")
    K8SPodID = serializers.CharField(source="lease.pod_id", allow_null=True, help_text="null when idle.")
    K8SApiResourceID = serializers.SerializerMethodField()
    ReservedAt = serializers.DateTimeField(source="reserved_at")
    BoundAt = serializers.DateTimeField(source="lease.bound_at", allow_null=True)
    IdleSince = serializers.DateTimeField(source="idle_since", allow_null=True)

    @extend_schema_field({"type": "string", "enum": ["bound", "idle"]})
    def get_State(self, address) -> str:  # noqa: N802 - named like the key
        return "idle" if lease_of(address) is None else "bound"

    @extend_schema_field({"type": "string"})
    def get_K8SApiResourceID(self, address) -> str:  # noqa: N802
        lease = lease_of(address)
        return "" if lease is None else lease.k8s_resource_id
