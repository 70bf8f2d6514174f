"""Request and answer shapes of the webhook's pool calls (contract section 2), of subnet
registration, and of the read APIs' rows, with PascalCase keys like the contract."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from contract.framework.fields import (
    INT32_MAX,
    ContractRequest,
    Envelope,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    cluster_id_field,
    ip_field,
    opaque_id_field,
    replicas_field,
    req_id_field,
)
from core.choices import AdminAction, Code, Kind, PoolState, ReqType
from pools import selectors

# The webhook's calls ----------------------------------------------------------------------------


class CreateIPPoolRequest(ContractRequest):
    """WB2IPResMgrCreateIPPoolReq."""

    K8SApiResourceReplicas = replicas_field(help_text="Replica count: the pool's target.")
    NetRegionalID = opaque_id_field(help_text="Network region (VPC) the subnet is registered under.")
    SubnetID = opaque_id_field(help_text="A registered subnet.")
    SubnetGatewayAddr = ip_field(help_text="Must equal the subnet's registered gateway.")


class ReleaseIPPoolRequest(ContractRequest):
    """WB2IPResMgrReleaseIPPoolReq."""


class ScaleIPPoolRequest(ContractRequest):
    """WB2IPResMgrScaleIPPoolReq."""

    K8SApiResourceOldReplicas = replicas_field(help_text="Recorded in the audit log, not trusted.")
    K8SApiResourceNewReplicas = replicas_field(help_text="The pool's new target.")


class WebhookResponse(Envelope):
    """IPResMgr2WBRes."""

    ReqType = serializers.ChoiceField(choices=ReqType.choices)


# Rows of the read APIs -------------------------------------------------------------------------

BIG_INTEGER = {
    "type": "integer",
    "minimum": 0,
    "description": "An IPv6 subnet's figure can exceed 64 bits: decode it as a big number (Go: json.Number).",
}


@extend_schema_serializer(component_name="SubnetCluster")
class SubnetClusterOut(serializers.Serializer):
    K8SClusterID = serializers.CharField(source="cluster_id")
    Granted = serializers.BooleanField(source="granted", help_text="Whether the subnet grants this cluster.")
    Quota = serializers.IntegerField(
        source="quota", allow_null=True, help_text="Addresses the cluster may reserve here; null: no quota."
    )
    Reserved = serializers.IntegerField(source="reserved", help_text="Addresses the cluster's pools reserve here.")


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
    Quarantined = serializers.IntegerField(
        source="n_quarantined",
        help_text="Addresses another host answered for on the wire: in no pool, never handed out until an "
        "operator clears them (GET /v1/quarantined-addresses).",
    )
    Free = serializers.SerializerMethodField(help_text="Capacity less Reserved and Quarantined.")
    OpenWithoutGrants = serializers.BooleanField(
        source="open_without_grants",
        help_text="While no cluster is granted: true, every cluster may grow pools here; false, none may. "
        "Once any cluster is granted, only the granted ones may.",
    )
    Clusters = SubnetClusterOut(
        source="clusters",
        many=True,
        help_text="An operator token sees every cluster granted the subnet or reserving addresses in it; a "
        "cluster token sees its own entry only.",
    )
    CreatedAt = serializers.DateTimeField(source="created_at")

    @extend_schema_field({"type": "array", "items": {"type": "string"}})
    def get_Exclude(self, subnet) -> list[str]:  # noqa: N802 - named like the key
        return [str(exclusion) for exclusion in subnet.exclusions.all()]

    @extend_schema_field(BIG_INTEGER)
    def get_Capacity(self, subnet) -> int:  # noqa: N802
        return selectors.usage(subnet).capacity

    @extend_schema_field(BIG_INTEGER)
    def get_Free(self, subnet) -> int:  # noqa: N802
        return selectors.usage(subnet).free


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

    def to_representation(self, event):
        """The row in one go rather than field by field: a few times less CPU for a page of events,
        which readers would take from the writers' calls. The fields above still describe it (the
        schema), and a test checks both ways give the same."""
        return {
            "ID": event.id,
            "At": self.fields["At"].to_representation(event.at),
            "ReqType": event.req_type,
            "AdminAction": event.admin_action,
            "ReqID": event.req_id,
            "K8SClusterID": event.k8s_cluster_id,
            "K8SNamespace": event.namespace,
            "K8SApiResourceKind": event.kind,
            "K8SApiResourceName": event.name,
            "K8SPodID": event.pod_id,
            "IP": event.ip,
            "SubnetID": event.subnet_id,
            "Code": event.code,
            "Msg": event.msg,
            "Actor": event.actor,
            "Detail": event.detail,
        }


# Subnet registration ---------------------------------------------------------------------------


class SubnetGrantRequest(serializers.Serializer):
    K8SClusterID = cluster_id_field()
    Quota = StrictIntegerField(
        min_value=0,
        max_value=INT32_MAX,
        required=False,
        allow_null=True,
        default=None,
        help_text="Addresses the cluster may reserve in the subnet; absent or null: no quota.",
    )


class SubnetCreateRequest(serializers.Serializer):
    ReqID = req_id_field()
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
    Grants = serializers.ListField(
        child=SubnetGrantRequest(),
        required=False,
        max_length=1000,
        help_text="The clusters that may grow pools in the subnet, each with an optional quota. When given, the "
        "subnet's access list becomes exactly this (also for a subnet already registered); absent: unchanged. "
        "Withdrawing a grant refuses growth only: pools keep their addresses.",
    )
    OpenWithoutGrants = StrictBooleanField(
        required=False,
        help_text="What an empty access list means: true, every cluster may use the subnet; false, none may. "
        "Absent: unchanged (a new subnet: the server's IPRESMGR_SUBNETS_OPEN_BY_DEFAULT). Must not be true "
        "with Grants listing clusters.",
    )

    def validate(self, data):
        grants = data.get("Grants")
        if grants is not None:
            seen = set()
            for grant in grants:
                if grant["K8SClusterID"] in seen:
                    raise serializers.ValidationError({"Grants": f"cluster {grant['K8SClusterID']!r} is listed twice"})
                seen.add(grant["K8SClusterID"])
            if grants and data.get("OpenWithoutGrants"):
                raise serializers.ValidationError(
                    {"OpenWithoutGrants": "must not be true when Grants lists clusters: then only they may use it"}
                )
        return data


class SubnetCreateResponse(Envelope):
    Subnet = SubnetOut(allow_null=True, help_text="The registered subnet; null on a refusal.")


@extend_schema_serializer(component_name="QuarantinedAddress")
class QuarantinedAddressOut(serializers.Serializer):
    IP = serializers.CharField(source="ip")
    State = serializers.SerializerMethodField(help_text="Always quarantined: never handed out until cleared.")
    ConflictMacAddr = serializers.CharField(
        source="conflict_mac", help_text="The MAC that answered for IP on the wire; empty if the plugin sent none."
    )
    MacAddr = serializers.CharField(source="mac", help_text="The MAC IPResMgr had given the address.")
    NetRegionalID = serializers.CharField(source="subnet.net_regional_id")
    SubnetID = serializers.CharField(source="subnet.subnet_id")
    K8SClusterID = serializers.CharField(source="k8s_cluster_id", help_text="The workload it was taken from.")
    K8SNamespace = serializers.CharField(source="namespace")
    K8SApiResourceKind = serializers.ChoiceField(source="kind", choices=Kind.choices)
    K8SApiResourceName = serializers.CharField(source="name")
    K8SPodID = serializers.CharField(source="pod_id", help_text="The pod whose CNI plugin found the conflict.")
    QuarantinedAt = serializers.DateTimeField(source="quarantined_at")
    Reason = serializers.CharField(source="reason")

    @extend_schema_field({"type": "string", "enum": ["quarantined"]})
    def get_State(self, quarantined) -> str:  # noqa: N802 - named like the key
        return "quarantined"
