"""Clearing a quarantine: an operator says the address is no longer in use on the wire, and it is
free again in its subnet. (Quarantining is the CNI plugin's release with Conflict:
leases.services.ip_release_conflict.) The console and `manage.py clear_quarantine` both call this."""

from __future__ import annotations

from django.utils import timezone

from audit.recording import audit_record
from core import addressing
from core.choices import Code
from core.domain import CallContext
from core.errors import ServiceError
from core.transactions import service_transaction
from pools.models import QuarantinedAddress


@service_transaction
def quarantine_clear(*, ctx: CallContext, subnet_id: str, ip: str, reason: str = "") -> QuarantinedAddress:
    """End the quarantine of `ip` in subnet `subnet_id`: the address is free in its subnet again
    (the next reservation may take it). Audited with what the quarantine recorded. An address not
    quarantined is refused (Code 1): nothing to clear."""
    now = timezone.now()
    try:
        ip = str(addressing.parse_ip(ip))
    except ValueError:
        raise ServiceError(Code.INVALID_REQUEST, f"IP: {ip!r} is not a valid IPv4 or IPv6 address") from None
    quarantined = (
        QuarantinedAddress.objects.select_for_update(of=("self",))
        .select_related("subnet")
        .filter(subnet__subnet_id=subnet_id, ip=ip)
        .first()
    )
    if quarantined is None:
        raise ServiceError(Code.INVALID_REQUEST, f"IP: {ip} is not quarantined in subnet {subnet_id}; nothing cleared")
    QuarantinedAddress.objects.filter(pk=quarantined.pk).delete()
    answered = quarantined.conflict_mac or "an unknown MAC"
    audit_record(
        ctx,
        workload=quarantined.workload,
        pod_id=quarantined.pod_id,
        ip=ip,
        subnet_id=subnet_id,
        msg=f"quarantine of {ip} in {subnet_id} cleared (it was answered by {answered}, quarantined "
        f"{quarantined.quarantined_at:%Y-%m-%d %H:%M:%S} for pod {quarantined.pod_id or '-'}); free again"
        + (f"; {reason}" if reason else ""),
        at=now,
        detail={
            "ConflictMacAddr": quarantined.conflict_mac,
            "MacAddr": quarantined.mac,
            "QuarantinedAt": quarantined.quarantined_at.isoformat(),
            "Reason": reason,
        },
    )
    return quarantined
