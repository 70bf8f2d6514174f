"""The audit log: one event per call and per admin change, written in the caller's transaction.

`audit_values()` is the one mapping from a call to an event's columns. `audit_record()` writes it
with the ORM; `audit_insert_sql()` writes it from inside a hot path's single SQL statement, where
some columns (the IP, the Msg) come from the statement's own results."""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from pools.choices import Code
from pools.domain import CallContext, Workload
from pools.models import AuditEvent

MSG_MAX = 2000


def audit_values(
    ctx: CallContext,
    *,
    code: Code = Code.SUCCESS,
    msg: str = "",
    workload: Workload | None = None,
    pod_id: str = "",
    ip: str = "",
    subnet_id: str = "",
    detail: dict | None = None,
    at=None,
) -> dict:
    """The event's field values, by field name."""
    return {
        "at": at or timezone.now(),
        "req_type": ctx.req_type,
        "admin_action": ctx.admin_action or "",
        "req_id": ctx.req_id,
        "k8s_cluster_id": workload.cluster_id if workload else "",
        "namespace": workload.namespace if workload else "",
        "kind": workload.kind if workload else None,
        "name": workload.name if workload else "",
        "pod_id": pod_id or "",
        "ip": ip or "",
        "subnet_id": subnet_id,
        "code": code,
        "msg": msg[:MSG_MAX],
        "actor": ctx.actor.label,
        "detail": detail or {},
    }


def audit_record(ctx: CallContext, **event) -> AuditEvent:
    return AuditEvent.objects.create(**audit_values(ctx, **event))


def audit_insert_sql(values: dict, *, from_sql: dict[str, str], source: str) -> tuple[str, list]:
    """`INSERT INTO <audit table> (...) SELECT ... FROM <source>`, for a CTE of a single statement.

    `values` come from audit_values(); the fields named in `from_sql` take that SQL expression
    instead (e.g. {"ip": "answer.ip"}), evaluated once per row of `source`."""
    columns, selected, params = [], [], []
    for name, value in values.items():
        field = AuditEvent._meta.get_field(name)
        columns.append(connection.ops.quote_name(field.column))
        if name in from_sql:
            selected.append(from_sql[name])
        else:
            selected.append("%s")
            params.append(field.get_db_prep_save(value, connection))
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(selected)} FROM {source}"
    return sql, params
