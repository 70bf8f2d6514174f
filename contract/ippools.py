"""The webhook's three pool calls. Each names its serializer, its ReqType and its service."""

from contract import openapi
from contract.framework.fields import workload_of
from contract.framework.views import ContractView
from contract.serializers import CreateIPPoolRequest, ReleaseIPPoolRequest, ScaleIPPoolRequest
from core.choices import ReqType
from pools import services


@openapi.CREATE_IP_POOL
class CreateIPPoolView(ContractView):
    request_serializer = CreateIPPoolRequest
    req_type = ReqType.CREATE_IP_POOL

    def perform(self, ctx, data):
        pool = services.pool_create(
            ctx=ctx,
            workload=workload_of(data),
            replicas=data["K8SApiResourceReplicas"],
            net_regional_id=data["NetRegionalID"],
            subnet_id=data["SubnetID"],
            gateway=data["SubnetGatewayAddr"],
        )
        return f"pool ready: target {pool.target}, {pool.reserved_count} addresses reserved", {}


@openapi.RELEASE_IP_POOL
class ReleaseIPPoolView(ContractView):
    request_serializer = ReleaseIPPoolRequest
    req_type = ReqType.RELEASE_IP_POOL

    def perform(self, ctx, data):
        pool = services.pool_release(ctx=ctx, workload=workload_of(data))
        if pool is None:
            return "no active pool; nothing to do", {}
        return f"pool released; {pool.reserved_count} addresses still bound or in grace", {}


@openapi.SCALE_IP_POOL
class ScaleIPPoolView(ContractView):
    request_serializer = ScaleIPPoolRequest
    req_type = ReqType.SCALE_IP_POOL

    def perform(self, ctx, data):
        pool = services.pool_scale(
            ctx=ctx,
            workload=workload_of(data),
            new_target=data["K8SApiResourceNewReplicas"],
            old_target=data["K8SApiResourceOldReplicas"],
        )
        return f"pool scaled: target {pool.target}, {pool.reserved_count} addresses reserved", {}
