"""Audit retention's tests: age the log, run the prune, read what it left."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from django.core.management import call_command
from django.db.models import F

from audit.models import AuditEvent
from core.choices import AdminAction, Code, ReqType
from leases.models import Lease

DAY = timedelta(days=1)


def age(days: float) -> None:
    """Everything written so far happened `days` days earlier."""
    AuditEvent.objects.update(at=F("at") - days * DAY)
    Lease.objects.update(bound_at=F("bound_at") - days * DAY)


def prune(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("prune_audit", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def event_ids() -> set[int]:
    return set(AuditEvent.objects.values_list("pk", flat=True))


def prune_event() -> AuditEvent:
    return AuditEvent.objects.get(admin_action=AdminAction.AUDIT_PRUNE)


def requires_of(pod: str) -> set[int]:
    return set(
        AuditEvent.objects.filter(req_type=ReqType.REQUIRE_IP, code=Code.SUCCESS, pod_id=pod).values_list(
            "pk", flat=True
        )
    )


def assert_consistent() -> None:
    out = io.StringIO()
    call_command("check_consistency", stdout=out)
    assert "checks passed" in out.getvalue()


def batches_in(summary: str) -> int:
    return int(re.search(r" in (\d+) batches", summary).group(1))


class FullAfter(io.StringIO):
    """A file that takes `writes` writes, then has no space left."""

    def __init__(self, writes: int):
        super().__init__()
        self.writes = writes

    def write(self, text):
        if self.writes == 0:
            raise OSError(28, "No space left on device")
        self.writes -= 1
        return super().write(text)
