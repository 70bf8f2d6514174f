"""Request and response shapes of the CNI IPAM plugin's calls (contract section 3)."""

from rest_framework import serializers

from pools.api import ContractRequest, Envelope, ip_field, opaque_id_field


class RequireIPRequest(ContractRequest):
    """IPAM2IPResMgrRequireIPReq."""

    K8SApiResourceID = opaque_id_field(
        allow_blank=True, required=False, default="", help_text="Workload UID; may be empty."
    )
    K8SPodID = opaque_id_field(help_text="Pod UID (not the pod name).")


class ReleaseIPRequest(RequireIPRequest):
    """IPAM2IPResMgrReleaseIPReq."""

    IP = ip_field(allow_blank=True, required=False, default="", help_text="Empty: whatever this pod holds in the pool.")


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
