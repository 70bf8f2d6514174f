"""The audit log: one event per call and per admin change, written in the caller's transaction.

`audit_values()` is the one mapping from a call to an event's columns. `audit_record()` writes it
with the ORM; `audit_insert_sql()` writes it from inside a hot path's single SQL statement, where
some columns (the IP, the Msg) come from the statement's own results."""

from __future__ import annotations

import functools

from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from core.choices import Code
from core.domain import CallContext, Workload
from core.tables import quote_tables

MSG_MAX = 2000


def audit_values(
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
) -> dict:
    """The event's field values, by field name."""
    return {
        "at": at or timezone.now(),
        "req_type": ctx.req_type,
        "admin_action": ctx.admin_action or "",
        "req_id": ctx.req_id,
        "k8s_cluster_id": workload.cluster_id if workload else cluster_id,
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
    names = tuple(values)
    sql = _insert_sql(names, tuple(sorted(from_sql.items())), source)
    params = [_db_value(name, values[name]) for name in names if name not in from_sql]
    return sql, params


_AS_IS = (str, int, type(None))


def _db_value(name: str, value):
    """The column value: plain strings, integers and NULL as they are, an integer enum (Code,
    ReqType, Kind) as its integer, the rest (a time, JSON) as the model field prepares it."""
    if type(value) in _AS_IS:
        return value
    if isinstance(value, int) and not isinstance(value, bool):  # what IntegerField.get_prep_value does
        return int(value)
    return AuditEvent._meta.get_field(name).get_db_prep_save(value, connection)


@functools.cache
def _insert_sql(names: tuple[str, ...], from_sql: tuple[tuple[str, str], ...], source: str) -> str:
    expressions = dict(from_sql)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(AuditEvent._meta.get_field(name).column) for name in names)
    selected = ", ".join(expressions.get(name, "%s") for name in names)
    table = quote_tables(event=AuditEvent)["event"]
    return f"INSERT INTO {table} ({columns}) SELECT {selected} FROM {source}"
