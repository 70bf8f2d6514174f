"""Audit retention: delete audit events older than a cutoff, a small batch at a time, keeping the
ones that still prove something.

What is kept whatever its age is decided by keep rules (`KEEP_RULES`): an SQL condition on the
event `e` that is true when the event must stay. This module keeps the prune runs' own events (the
record of what history was removed, and when); `leases.retention` keeps the events that prove a
binding (the consistency check and "who held this IP" read them). Everything else older than the
cutoff goes. (Retention is the part of audit above the domain: it knows what bindings need.)

Each batch is its own short transaction: the next `batch_size` events older than the cutoff by
(at, id) (the `at` index, walked forward from where the last batch stopped, so kept events are
read once), minus the kept ones, written to the export and flushed, then deleted by id. Nothing
waits on a batch: audit rows are never updated, and new ones are written at `now`, far after the
cutoff. A run stopped half way has committed its finished batches; the next run goes on from there.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TextIO

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.recording import audit_record
from core.choices import AdminAction, Code, ReqType
from core.domain import CallContext
from core.errors import ServiceError
from core.tables import quote_tables
from leases.retention import BINDING_PROOF, binding_proof

# Small enough that one batch (select, export, delete) takes some tens of milliseconds, so that a
# SQLite writer waits no longer than that and PostgreSQL's WAL comes in small pieces.
DEFAULT_BATCH_SIZE = 2000
MAX_BATCH_SIZE = 100_000
# pg_try_advisory_lock's key: two prunes at once would walk the same rows (and export them twice).
ADVISORY_LOCK_KEY = int.from_bytes(b"ipr-prun", "big")

# The export's keys: the model's columns, so that a line loads back with AuditEvent(**row).
EXPORT_FIELDS = tuple(f.attname for f in AuditEvent._meta.concrete_fields)


@dataclass(frozen=True)
class KeepRule:
    name: str
    description: str  # for the console, docs/audit.md and the command's output
    condition: Callable[[datetime], tuple[str, list]]  # (SQL on the event `e`, params), given the cutoff


def _prune_runs(cutoff):
    return "e.admin_action = %s", [AdminAction.AUDIT_PRUNE]


# What is kept however old: each an SQL condition on the audit event `e`, given the cutoff. The SQL
# must be portable between SQLite and PostgreSQL and cheap per event (indexed lookups only): it runs
# for every event older than the cutoff.
KEEP_RULES: list[KeepRule] = [
    KeepRule("prune_runs", "the events of the prune runs themselves (what was removed, and when)", _prune_runs),
    KeepRule("binding_proof", BINDING_PROOF, binding_proof),
]


def retention_days() -> int:
    return settings.IPRESMGR_AUDIT_RETENTION_DAYS


def retention_summary() -> str:
    """One sentence on what the audit log keeps, for the console and the command's help."""
    days = retention_days()
    if days == 0:
        return "Audit events are kept for ever (IPRESMGR_AUDIT_RETENTION_DAYS=0)."
    kept = "; ".join(rule.description for rule in KEEP_RULES)
    return (
        f"Audit events older than {days} days are deleted daily (manage.py prune_audit, "
        f"IPRESMGR_AUDIT_RETENTION_DAYS), except {kept}."
    )


@dataclass
class PruneReport:
    older_than_days: int
    cutoff: datetime | None  # None: retention is off (0 days), nothing was looked at
    batch_size: int
    dry_run: bool
    export: str = ""  # where the deleted rows were written ('-': standard output), or ""
    deleted: int = 0  # in a dry run: would be deleted
    batches: int = 0  # batches that deleted (or would delete) something
    kept: Counter = field(default_factory=Counter)  # older than the cutoff but kept, by rule name
    by_what: Counter = field(default_factory=Counter)  # deleted, by ReqType or admin action label
    oldest: datetime | None = None  # of the deleted events
    newest: datetime | None = None
    stopped_by: str = ""  # the error that ended the run early; its finished batches stay done

    @property
    def retention_off(self) -> bool:
        return self.cutoff is None

    @property
    def kept_total(self) -> int:
        return sum(self.kept.values())

    def summary(self) -> str:
        if self.retention_off:
            return "retention is 0 days: every audit event is kept; nothing deleted"
        verb = "would delete" if self.dry_run else "deleted"
        text = (
            f"{verb} {self.deleted} audit events older than {self.cutoff.isoformat()} "
            f"({self.older_than_days} days) in {self.batches} batches of at most {self.batch_size}; "
            f"kept {self.kept_total} older ones"
        )
        if self.kept:
            text += " (" + ", ".join(f"{name}: {count}" for name, count in sorted(self.kept.items())) + ")"
        if self.export:
            text += f"; exported to {'standard output' if self.export == '-' else self.export}"
        if self.stopped_by:
            text += f"; stopped early: {self.stopped_by}"
        return text

    def detail(self) -> dict:
        """The prune event's Detail."""
        return {
            "older_than_days": self.older_than_days,
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
            "deleted": self.deleted,
            "batches": self.batches,
            "batch_size": self.batch_size,
            "kept": dict(sorted(self.kept.items())),
            "deleted_by_what": dict(sorted(self.by_what.items())),
            "oldest_deleted": self.oldest.isoformat() if self.oldest else None,
            "newest_deleted": self.newest.isoformat() if self.newest else None,
            "export": self.export or None,
            "completed": not self.stopped_by,
            **({"error": self.stopped_by} if self.stopped_by else {}),
        }


@dataclass(frozen=True)
class Batch:
    number: int
    deleted: int
    kept: int
    last_at: datetime


class PruneAlreadyRunning(ServiceError):
    pass


def audit_prune(
    *,
    ctx: CallContext,
    older_than_days: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
    export: TextIO | None = None,
    export_name: str = "",
    dry_run: bool = False,
    on_batch: Callable[[Batch], None] | None = None,
) -> PruneReport:
    """Delete the audit events older than `older_than_days` days, except those a keep rule keeps.

    0 days keeps everything (nothing is read). With `export`, each batch's rows are written to it
    as JSON lines and flushed before the batch is deleted; an error writing them ends the run with
    that batch not deleted. A dry run deletes nothing (and writes no audit event) but counts, and
    exports, what would go. A real run writes one audit event (AdminAction.AUDIT_PRUNE) with its
    counts, also when it stops early, and then raises the error. Raises PruneAlreadyRunning when
    another prune holds the lock (PostgreSQL)."""
    if older_than_days < 0:
        raise ServiceError(Code.INVALID_REQUEST, f"older than {older_than_days} days: must be 0 (keep all) or more")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ServiceError(Code.INVALID_REQUEST, f"batch size {batch_size}: must be 1 to {MAX_BATCH_SIZE}")
    report = PruneReport(
        older_than_days=older_than_days, cutoff=None, batch_size=batch_size, dry_run=dry_run, export=export_name
    )
    if older_than_days == 0:
        return report
    now = timezone.now()
    report.cutoff = now - timedelta(days=older_than_days)
    with _only_prune_running():
        try:
            for batch in _prune_batches(report, export=export):
                if on_batch is not None:
                    on_batch(batch)
        except Exception as exc:
            report.stopped_by = f"{type(exc).__name__}: {exc}"
            if not dry_run:
                _audit_run(ctx, report)
            raise
    if not dry_run:
        _audit_run(ctx, report)
    return report


def _audit_run(ctx: CallContext, report: PruneReport) -> None:
    try:
        audit_record(
            ctx,
            code=Code.INTERNAL if report.stopped_by else Code.SUCCESS,
            msg=report.summary(),
            detail=report.detail(),
        )
    except Exception:
        if not report.stopped_by:
            raise
        # The run's own error (a lost connection, say) is the one to report.


@contextmanager
def _only_prune_running() -> Iterator[None]:
    """A session-level advisory lock on PostgreSQL, held across the batches' transactions (and
    let go with the connection if the process dies). SQLite has one writer at a time anyway."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        (locked,) = cursor.fetchone()
    if not locked:
        raise PruneAlreadyRunning(Code.UNAVAILABLE, "another prune_audit is running; nothing done")
    try:
        yield
    finally:
        # A lost connection has let go of the lock already; its error is the one to report.
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])


def _candidates_sql(cutoff: datetime, after: tuple | None, limit: int) -> tuple[str, list]:
    """The next `limit` events older than the cutoff by (at, id): id, at, req_type, admin_action,
    and the number of the first keep rule that keeps it (0: none)."""
    keep_sql, keep_params = [], []
    for number, rule in enumerate(KEEP_RULES, start=1):
        sql, params = rule.condition(cutoff)
        keep_sql.append(f"WHEN ({sql}) THEN {number}")
        keep_params += params
    kept_by = f"CASE {' '.join(keep_sql)} ELSE 0 END" if keep_sql else "0"
    adapt = connection.ops.adapt_datetimefield_value
    where, params = ["e.at < %s"], [adapt(cutoff)]
    if after is not None:
        last_at, last_id = after
        # (at, id) > (last_at, last_id), with `at >= last_at` apart so that the index scan starts
        # there instead of filtering every row before it (each batch would read all earlier ones).
        where += ["e.at >= %s", "(e.at > %s OR e.id > %s)"]
        params += [adapt(last_at), adapt(last_at), last_id]
    table = quote_tables(event=AuditEvent)["event"]
    sql = (
        f"SELECT e.id, e.at, e.req_type, e.admin_action, {kept_by} FROM {table} e "
        f"WHERE {' AND '.join(where)} ORDER BY e.at, e.id LIMIT %s"
    )
    return sql, [*keep_params, *params, limit]


def _prune_batches(report: PruneReport, *, export: TextIO | None) -> Iterator[Batch]:
    after = None
    number = 0
    while True:
        with transaction.atomic():
            sql, params = _candidates_sql(report.cutoff, after, report.batch_size)
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                rows = cursor.fetchall()
            if not rows:
                return
            after = (_as_datetime(rows[-1][1]), rows[-1][0])
            doomed = [row for row in rows if not row[4]]
            doomed_ids = [row[0] for row in doomed]
            if doomed and export is not None:
                _write(export, _rows(doomed_ids))
            if doomed and not report.dry_run:
                _delete(doomed_ids)
        # Counted once the batch's transaction has committed.
        kept = Counter(KEEP_RULES[row[4] - 1].name for row in rows if row[4])
        report.kept.update(kept)
        if doomed:
            number += 1
            report.batches = number
            report.deleted += len(doomed)
            for (req_type, admin_action), count in Counter((row[2], row[3]) for row in doomed).items():
                report.by_what[_what(req_type, admin_action)] += count
            report.oldest = report.oldest or _as_datetime(doomed[0][1])
            report.newest = _as_datetime(doomed[-1][1])
        yield Batch(number=number, deleted=len(doomed), kept=sum(kept.values()), last_at=after[0])
        if len(rows) < report.batch_size:
            return


def _as_datetime(value) -> datetime:
    """The `at` column as a raw cursor reads it: aware (PostgreSQL), or naive UTC or text (SQLite)."""
    if isinstance(value, str):
        value = AuditEvent._meta.get_field("at").to_python(value)
    return timezone.make_aware(value, UTC) if timezone.is_naive(value) else value


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    """SQLite takes at most 999 parameters in one statement (older builds); PostgreSQL no limit."""
    size = (connection.features.max_query_params or len(ids) + 1) - 1
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _rows(ids: list[int]) -> list[dict]:
    events: list[dict] = []
    for chunk in _chunks(ids):
        events += AuditEvent.objects.filter(pk__in=chunk).order_by().values(*EXPORT_FIELDS)
    events.sort(key=lambda event: (event["at"], event["id"]))
    return events


def _delete(ids: list[int]) -> None:
    # By id: nothing refers to audit events, and no signal listens for their deletion.
    table = quote_tables(event=AuditEvent)["event"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DELETE FROM {table} WHERE id = ANY(%s)", [ids])  # one parameter, any length
            return
        for chunk in _chunks(ids):
            cursor.execute(f"DELETE FROM {table} WHERE id IN ({', '.join(['%s'] * len(chunk))})", chunk)


def _json_value(value):
    if isinstance(value, datetime):
        return value.isoformat()  # microseconds and offset kept (DjangoJSONEncoder cuts to ms)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _write(export: TextIO, events: list[dict]) -> None:
    export.write("".join(json.dumps(event, default=_json_value, ensure_ascii=False) + "\n" for event in events))
    export.flush()
    try:
        descriptor = export.fileno()
    except (AttributeError, OSError, ValueError):  # a stream with no file behind it
        return
    if stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.fsync(descriptor)  # on disk before the rows it holds are deleted (a pipe cannot be synced)


def _what(req_type: int | None, admin_action: str) -> str:
    if req_type is not None:
        return ReqType(req_type).label
    return AdminAction(admin_action).label if admin_action in AdminAction.values else "other"
