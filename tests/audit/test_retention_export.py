"""`manage.py prune_audit`: the export of what it deletes, its own audit event, its lock, the console."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from audit import retention
from audit.models import AuditEvent
from core.choices import AdminAction, Code
from core.domain import COMMAND_LINE, CallContext
from tests.support.admin import changelist
from tests.support.retention import (
    DAY,
    FullAfter,
    age,
    event_ids,
    prune,
    prune_event,
)

# Export --------------------------------------------------------------------------------------------


def test_the_export_holds_exactly_the_deleted_events_as_json_lines(v1, tmp_path):
    v1.create_pool(1)
    v1.require("pod-a")  # kept: not exported
    v1.require("pod-b")  # refused (Code 30): exported like any other
    for n in range(4):
        v1.release(f"ghost-{n}")
    age(100)
    rows = {row["id"]: row for row in AuditEvent.objects.values()}
    export = tmp_path / "audit.jsonl"

    out, _ = prune("--older-than", "90", "--batch-size", "2", "--export", str(export))

    deleted = set(rows) - event_ids()
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert {line["id"] for line in lines} == deleted and len(lines) == len(deleted)
    for line in lines:
        row = rows[line["id"]]
        assert line == {**row, "at": row["at"].isoformat()}
    assert str(export) in out and prune_event().detail["export"] == str(export)


def test_the_export_is_appended_to(v1, tmp_path):
    export = tmp_path / "audit.jsonl"
    export.write_text('{"id": 0}\n')
    v1.create_pool(1)
    age(100)
    prune("--older-than", "90", "--export", str(export))
    assert export.read_text().startswith('{"id": 0}\n') and len(export.read_text().splitlines()) > 1


def test_export_to_standard_output_keeps_the_messages_on_standard_error(v1):
    v1.create_pool(1)
    age(100)
    before = event_ids()
    out, err = prune("--older-than", "90", "--export", "-")
    assert {json.loads(line)["id"] for line in out.splitlines()} == before
    assert "deleted" in err and "standard output" in err


def test_a_dry_run_exports_what_would_go(v1, tmp_path):
    v1.create_pool(1)
    age(100)
    before = event_ids()
    export = tmp_path / "audit.jsonl"
    prune("--older-than", "90", "--dry-run", "--export", str(export))
    assert {json.loads(line)["id"] for line in export.read_text().splitlines()} == before == event_ids()


def test_an_export_that_cannot_be_written_deletes_nothing(v1):
    v1.create_pool(1)
    age(100)
    before = event_ids()
    with pytest.raises(CommandError, match="export to /dev/full failed"):
        prune("--older-than", "90", "--export", "/dev/full")  # every write: no space left
    assert event_ids() - before == {prune_event().pk}
    assert prune_event().code == Code.INTERNAL and prune_event().detail["completed"] is False


def test_a_failed_export_deletes_nothing_further(v1):
    v1.create_pool(1)
    for n in range(5):
        v1.release(f"ghost-{n}")
    age(100)
    before = event_ids()
    export = FullAfter(writes=1)

    with pytest.raises(OSError):
        retention.audit_prune(
            ctx=CallContext(actor=COMMAND_LINE, admin_action=AdminAction.AUDIT_PRUNE),
            older_than_days=90,
            batch_size=2,
            export=export,
            export_name="full",
        )

    exported = {json.loads(line)["id"] for line in export.getvalue().splitlines()}
    assert len(exported) == 2 and before - event_ids() == exported  # the first batch, no more
    run = prune_event()
    assert run.detail["deleted"] == 2 and run.detail["completed"] is False and "No space left" in run.msg


# The run's own event, the lock, the console -----------------------------------------------------------


def test_the_run_is_audited_with_counts_cutoff_and_actor(v1, admin_client):
    v1.create_pool(1)
    v1.require("pod-a")
    age(100)
    prune("--older-than", "90")

    run = prune_event()
    assert run.actor == "manage.py" and run.code == Code.SUCCESS
    assert run.detail["deleted"] == 3 and run.detail["kept"] == {"binding_proof": 1}
    assert run.detail["completed"] is True
    cutoff = timezone.datetime.fromisoformat(run.detail["cutoff"])
    assert abs(cutoff - (run.at - 90 * DAY)) < timedelta(seconds=5)
    assert run.detail["deleted_by_what"] == {"CreateIPPool": 1, "Cluster registered": 1, "Subnet registration": 1}
    page = admin_client.get(changelist("auditevent"), {"admin_action__exact": "audit_prune"}).content.decode()
    assert "Old audit events pruned" in page and "deleted 3 audit events" in page


@pytest.mark.postgres_only
def test_a_second_prune_at_the_same_time_is_refused(v1):
    import psycopg

    v1.create_pool(1)
    age(100)
    before = event_ids()
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [retention.ADVISORY_LOCK_KEY])
        with pytest.raises(CommandError, match="another prune_audit is running"):
            prune("--older-than", "90")
    assert event_ids() == before
    prune("--older-than", "90")  # the lock went with the other session
    assert not before & event_ids()


def test_the_console_says_how_long_events_are_kept_and_what_stays(admin_client, db):
    page = admin_client.get(changelist("auditevent")).content.decode()
    assert "older than 90 days are deleted daily" in page
    assert "prove a binding still in force" in page and "prune runs" in page
    with override_settings(IPRESMGR_AUDIT_RETENTION_DAYS=0):
        assert "kept for ever" in admin_client.get(changelist("auditevent")).content.decode()


def test_what_is_kept_however_old_is_the_binding_proofs_and_the_prune_runs(db):
    assert [rule.name for rule in retention.KEEP_RULES] == ["prune_runs", "binding_proof"]
