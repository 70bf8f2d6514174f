"""Who held an address when: answered from the audit log, which outlives the address rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from pools import addressing
from pools.choices import AdminAction, Code, ReqType
from pools.models import AuditEvent


@dataclass(frozen=True)
class Holding:
    """The binding in force at `at`, or `pod_id` None when the address was not bound then."""

    ip: str
    at: datetime
    pod_id: str | None
    bound_event: AuditEvent | None  # the RequireIP that bound it
    ended_event: AuditEvent | None  # the release that ended that binding (before or after `at`)
    evidence: list[AuditEvent]  # the events for this IP around `at`, newest first


def _binding_events(ip: str):
    """Successful events that bind or unbind `ip`. A ReleaseIP may list several IPs."""
    return AuditEvent.objects.filter(code=Code.SUCCESS).filter(
        Q(req_type=ReqType.REQUIRE_IP, ip=ip)
        | Q(req_type=ReqType.RELEASE_IP, ip__contains=ip)
        | Q(admin_action=AdminAction.BINDING_FORCE_RELEASE, ip=ip)
    )


def _names_ip(event: AuditEvent, ip: str) -> bool:
    return ip in [part.strip() for part in event.ip.split(",")]


def _is_bind(event: AuditEvent) -> bool:
    return event.req_type == ReqType.REQUIRE_IP


def holder_at(*, ip: str, at: datetime) -> Holding:
    """Which pod held `ip` at `at`. Raises ValueError for text that is not an IP."""
    ip = str(addressing.parse_ip(ip))
    before = [e for e in _binding_events(ip).filter(at__lte=at).order_by("-at", "-id")[:200] if _names_ip(e, ip)]
    evidence = list(AuditEvent.objects.filter(Q(ip=ip) | Q(ip__contains=ip), at__lte=at).order_by("-at", "-id")[:20])
    evidence = [e for e in evidence if _names_ip(e, ip)]
    if not before:
        return Holding(ip=ip, at=at, pod_id=None, bound_event=None, ended_event=None, evidence=evidence)
    latest = before[0]
    if not _is_bind(latest):
        return Holding(ip=ip, at=at, pod_id=None, bound_event=None, ended_event=latest, evidence=evidence)
    # A retried RequireIP writes another event for the same binding: take the first of the run.
    bound = latest
    for event in before[1:]:
        if not _is_bind(event) or event.pod_id != latest.pod_id:
            break
        bound = event
    after = [e for e in _binding_events(ip).filter(at__gt=at).order_by("at", "id")[:200] if _names_ip(e, ip)]
    ended = next((e for e in after if not _is_bind(e) or e.pod_id != latest.pod_id), None)
    return Holding(ip=ip, at=at, pod_id=latest.pod_id, bound_event=bound, ended_event=ended, evidence=evidence)
