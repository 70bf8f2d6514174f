"""The tables the hand-written SQL of leases names (services' one-statement paths, retention's keep rule)."""

from __future__ import annotations

from audit.models import AuditEvent
from core.tables import quote_tables
from leases.models import Lease
from pools.models import Address, Pool, Subnet


def quoted_tables() -> dict[str, str]:
    return quote_tables(address=Address, lease=Lease, pool=Pool, subnet=Subnet, event=AuditEvent)
