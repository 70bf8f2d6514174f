"""The audit log: one event per call and per admin change, written in the caller's transaction."""

from __future__ import annotations

from django.utils import timezone

from pools.choices import Code
from pools.domain import CallContext, Workload
from pools.models import AuditEvent


def audit_record(
    ctx: CallContext,
    *,
    code: Code = Code.SUCCESS,
    msg: str = "",
    workload: Workload | None = None,
    cluster_id: str = "",
    pod_id: str = "",
    ip: str = "",
    subnet_id: str = "",
    detail: dict | None = None,
    at=None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        at=at or timezone.now(),
        req_type=ctx.req_type,
        admin_action=ctx.admin_action or "",
        req_id=ctx.req_id,
        k8s_cluster_id=workload.cluster_id if workload else cluster_id,
        namespace=workload.namespace if workload else "",
        kind=workload.kind if workload else None,
        name=workload.name if workload else "",
        pod_id=pod_id or "",
        ip=ip or "",
        subnet_id=subnet_id,
        code=code,
        msg=msg[:2000],
        actor=ctx.actor.label,
        detail=detail or {},
    )
