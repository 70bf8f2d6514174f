"""Shapes of the read APIs and of subnet registration, with PascalCase keys like the contract."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from pools import services
from pools.api import REQ_ID_MAX, Envelope, StrictCharField, ip_field, opaque_id_field
from pools.choices import AdminAction, Code, Kind, PoolState, ReqType

BIG_INTEGER = {
    "type": "integer",
    "minimum": 0,
    "description": "An IPv6 subnet's figure can exceed 64 bits: decode it as a big number (Go: json.Number).",
}


@extend_schema_serializer(component_name="Subnet")
class SubnetOut(serializers.Serializer):
    NetRegionalID = serializers.CharField(source="net_regional_id")
    SubnetID = serializers.CharField(source="subnet_id")
    CIDR = serializers.CharField(source="cidr")
    Gateway = serializers.CharField(source="gateway")
    IPVersion = serializers.IntegerField(source="ip_version")
    Exclude = serializers.SerializerMethodField(help_text="Excluded addresses and inclusive ranges (A or A-B).")
    Capacity = serializers.SerializerMethodField(
        help_text="Addresses that may ever be handed out: usable addresses less the gateway and exclusions."
    )
    Reserved = serializers.IntegerField(source="n_reserved", help_text="Addresses reserved by pools.")
    Bound = serializers.IntegerField(source="n_bound", help_text="Reserved addresses bound to a pod.")
    Free = serializers.SerializerMethodField(help_text="Capacity less Reserved.")
    CreatedAt = serializers.DateTimeField(source="created_at")

    @extend_schema_field({"type": "array", "items": {"type": "string"}})
    def get_Exclude(self, subnet) -> list[str]:  # noqa: N802 - named like the key
        return [str(exclusion) for exclusion in subnet.exclusions.all()]

    @extend_schema_field(BIG_INTEGER)
    def get_Capacity(self, subnet) -> int:  # noqa: N802
        return services.subnet_capacity(subnet)

    @extend_schema_field(BIG_INTEGER)
    def get_Free(self, subnet) -> int:  # noqa: N802
        return services.subnet_capacity(subnet) - subnet.n_reserved


@extend_schema_serializer(component_name="Pool")
class PoolOut(serializers.Serializer):
    K8SClusterID = serializers.CharField(source="k8s_cluster_id")
    K8SNamespace = serializers.CharField(source="namespace")
    K8SApiResourceKind = serializers.ChoiceField(source="kind", choices=Kind.choices)
    K8SApiResourceName = serializers.CharField(source="name")
    NetRegionalID = serializers.CharField(source="subnet.net_regional_id")
    SubnetID = serializers.CharField(source="subnet.subnet_id")
    State = serializers.ChoiceField(source="state", choices=PoolState.choices)
    Target = serializers.IntegerField(source="target", help_text="The replica count.")
    Reserved = serializers.IntegerField(source="reserved_count", help_text="Addresses the pool reserves.")
    Bound = serializers.IntegerField(source="n_bound", help_text="Of which bound to a pod.")
    CreatedAt = serializers.DateTimeField(source="created_at")
    UpdatedAt = serializers.DateTimeField(source="updated_at")
    ReleasedAt = serializers.DateTimeField(source="released_at", allow_null=True)


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
    K8SPodID = serializers.CharField(source="pod_id", allow_null=True, help_text="null when idle.")
    K8SApiResourceID = serializers.CharField(source="k8s_resource_id", allow_blank=True)
    ReservedAt = serializers.DateTimeField(source="reserved_at")
    BoundAt = serializers.DateTimeField(source="bound_at", allow_null=True)
    IdleSince = serializers.DateTimeField(source="idle_since", allow_null=True)

    @extend_schema_field({"type": "string", "enum": ["bound", "idle"]})
    def get_State(self, address) -> str:  # noqa: N802
        return "bound" if address.is_bound else "idle"


@extend_schema_serializer(component_name="Event")
class EventOut(serializers.Serializer):
    ID = serializers.IntegerField(source="id")
    At = serializers.DateTimeField(source="at")
    ReqType = serializers.ChoiceField(source="req_type", choices=ReqType.choices, allow_null=True)
    AdminAction = serializers.ChoiceField(source="admin_action", choices=AdminAction.choices, allow_blank=True)
    ReqID = serializers.CharField(source="req_id", allow_blank=True)
    K8SClusterID = serializers.CharField(source="k8s_cluster_id", allow_blank=True)
    K8SNamespace = serializers.CharField(source="namespace", allow_blank=True)
    K8SApiResourceKind = serializers.ChoiceField(source="kind", choices=Kind.choices, allow_null=True)
    K8SApiResourceName = serializers.CharField(source="name", allow_blank=True)
    K8SPodID = serializers.CharField(source="pod_id", allow_blank=True)
    IP = serializers.CharField(source="ip", allow_blank=True)
    SubnetID = serializers.CharField(source="subnet_id", allow_blank=True)
    Code = serializers.ChoiceField(source="code", choices=Code.choices)
    Msg = serializers.CharField(source="msg", allow_blank=True)
    Actor = serializers.CharField(source="actor", help_text="cluster token, operator token or admin user")
    Detail = serializers.JSONField(source="detail")


# Subnet registration ---------------------------------------------------------------------------


class SubnetCreateRequest(serializers.Serializer):
    ReqID = StrictCharField(max_length=REQ_ID_MAX, required=False, allow_blank=True, help_text="Echoed back.")
    NetRegionalID = opaque_id_field(help_text="Network region (VPC) the subnet belongs to.")
    SubnetID = opaque_id_field(help_text="Unique across all regions.")
    CIDR = StrictCharField(max_length=64, help_text="IPv4 or IPv6 network, host bits zero: 10.0.3.0/24.")
    Gateway = ip_field(help_text="A usable address of the network; never handed out.")
    Exclude = serializers.ListField(
        child=StrictCharField(max_length=100),
        required=False,
        default=list,
        max_length=1000,
        help_text="Addresses (A) or inclusive ranges (A-B) never handed out.",
    )


class SubnetCreateResponse(Envelope):
    Subnet = SubnetOut(allow_null=True, help_text="The registered subnet; null on a refusal.")
