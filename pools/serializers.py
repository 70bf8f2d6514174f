"""Request and response shapes of the webhook's pool calls (contract section 2)."""

from rest_framework import serializers

from pools.api import ContractRequest, Envelope, ip_field, opaque_id_field, replicas_field
from pools.choices import ReqType


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
