"""Who held an address when: answered from the audit log, which outlives the address rows.

Every query here walks an index of the audit log: (ip, at) to find the binding, then
(pod_id, at) to find how it ended (a ReleaseIP may name several IPs in one event)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from audit.models import AuditEvent
from core import addressing
from core.choices import AdminAction, Code, ReqType


@dataclass(frozen=True)
class Holding:
    """The binding in force at `at`, or `pod_id` None when the address was not bound then."""

    ip: str
    at: datetime
    pod_id: str | None
    bound_event: AuditEvent | None  # the RequireIP that bound it
    ended_event: AuditEvent | None  # the release that ended that binding (before or after `at`)
    evidence: list[AuditEvent]  # the latest events for this IP up to `at`, newest first


# The events that bind an address to a pod: its RequireIP, or reconcile restoring a binding a
# database failover lost.
BINDS = Q(req_type=ReqType.REQUIRE_IP) | Q(admin_action=AdminAction.BINDING_RESTORE)


def _names_ip(event: AuditEvent, ip: str) -> bool:
    return ip in [part.strip() for part in event.ip.split(",")]


def _releases_by(pod_id: str, ip: str):
    """Successful releases of `ip` by `pod_id` (its own ReleaseIP or a console force-release)."""
    events = AuditEvent.objects.filter(pod_id=pod_id, code=Code.SUCCESS).filter(
        Q(req_type=ReqType.RELEASE_IP) | Q(admin_action=AdminAction.BINDING_FORCE_RELEASE)
    )
    return events, lambda event: _names_ip(event, ip)


def holder_at(*, ip: str, at: datetime) -> Holding:
    """Which pod held `ip` at `at`. Raises ValueError for text that is not an IP."""
    ip = str(addressing.parse_ip(ip))
    evidence = list(AuditEvent.objects.filter(ip=ip, at__lte=at).order_by("-at", "-id")[:20])
    bind = AuditEvent.objects.filter(BINDS, ip=ip, code=Code.SUCCESS, at__lte=at).order_by("-at", "-id").first()
    if bind is None:
        return Holding(ip=ip, at=at, pod_id=None, bound_event=None, ended_event=None, evidence=evidence)
    releases, names_ip = _releases_by(bind.pod_id, ip)
    ended = next((e for e in releases.filter(at__gte=bind.at).order_by("at", "id")[:100] if names_ip(e)), None)
    if ended is not None and ended.at <= at:
        return Holding(ip=ip, at=at, pod_id=None, bound_event=bind, ended_event=ended, evidence=evidence)
    # A retried RequireIP writes another event for the same binding: since = the first of the run.
    before = next((e for e in releases.filter(at__lt=bind.at).order_by("-at", "-id")[:100] if names_ip(e)), None)
    first = AuditEvent.objects.filter(BINDS, ip=ip, code=Code.SUCCESS, pod_id=bind.pod_id, at__lte=bind.at)
    if before is not None:
        first = first.filter(at__gt=before.at)
    since = first.order_by("at", "id").first() or bind
    return Holding(ip=ip, at=at, pod_id=bind.pod_id, bound_event=since, ended_event=ended, evidence=evidence)
