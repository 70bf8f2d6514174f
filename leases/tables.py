"""The quoted table names the hand-written SQL of leases formats into its statements (never values)."""

from __future__ import annotations

from django.db import connection

from audit.models import AuditEvent
from leases.models import Lease
from pools.models import Address, Pool, Subnet


def quoted_tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    models = {"address": Address, "lease": Lease, "pool": Pool, "subnet": Subnet, "event": AuditEvent}
    return {key: quote(model._meta.db_table) for key, model in models.items()}
