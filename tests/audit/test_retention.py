"""`manage.py prune_audit`: old audit events go in small batches; what still proves a binding stays.

"Old" is made by moving what the API wrote back in time (events and the leases' bound_at together,
as if the calls had been made then), never by faking the clock or the database."""

from __future__ import annotations

import io
import json
import math
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from audit import history, retention
from audit.models import AuditEvent
from core.choices import AdminAction, Code, ReqType
from core.domain import COMMAND_LINE, CallContext
from leases.models import Lease
from tests.support.admin import changelist

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


# What goes and what stays --------------------------------------------------------------------------


def test_events_older_than_the_cutoff_go_and_recent_ones_stay(v1):
    v1.create_pool(2)
    v1.require("pod-old")
    v1.release("pod-old")
    age(100)
    old = event_ids()
    v1.require("pod-new")
    v1.release("pod-new")
    recent = event_ids() - old

    out, _ = prune("--older-than", "90")

    assert event_ids() - {prune_event().pk} == recent
    assert f"deleted {len(old)} audit events older than" in out


def test_events_younger_than_the_cutoff_stay_however_close_to_it(v1):
    v1.create_pool(1)
    age(89.9)
    before = event_ids()
    prune("--older-than", "90")
    assert event_ids() - {prune_event().pk} == before


def test_the_binding_proof_of_a_still_bound_address_stays_with_its_retries(v1):
    """pod-x held the pool's one address and let go; pod-a holds it since (a retried RequireIP
    too), all 100 days ago. pod-a's RequireIPs stay; everything else that old goes."""
    v1.create_pool(1)
    ip = v1.require("pod-x").json()["IP"]
    v1.release("pod-x")
    assert v1.require("pod-a").json()["IP"] == ip
    assert v1.require("pod-a").json()["IP"] == ip  # CNI ADD retried
    proof = requires_of("pod-a")
    assert len(proof) == 2
    age(100)

    out, _ = prune("--older-than", "90")

    assert event_ids() - {prune_event().pk} == proof
    assert "binding_proof: 2" in out
    assert_consistent()
    # The check would notice had the proof gone (so the line above is not vacuous).
    AuditEvent.objects.filter(pk__in=proof).delete()
    with pytest.raises(CommandError):
        call_command("check_consistency", stdout=io.StringIO())


def test_who_held_still_answers_for_a_still_bound_address_after_pruning(v1, admin_client, operator_token):
    v1.create_pool(1)
    ip = v1.require("pod-x").json()["IP"]
    v1.release("pod-x")
    v1.require("pod-a")
    bound_at = Lease.objects.get().bound_at
    v1.require("pod-a")
    age(100)
    prune("--older-than", "90")

    now = timezone.now()
    holding = history.holder_at(ip=ip, at=now)
    assert holding.pod_id == "pod-a"
    assert holding.bound_event.at == bound_at - 100 * DAY  # since the binding's first RequireIP
    assert history.holder_at(ip=ip, at=now - 95 * DAY).pod_id == "pod-a"
    page = admin_client.get(
        reverse("admin:audit_auditevent_who_held"), {"ip": ip, "at": now.strftime("%Y-%m-%d %H:%M")}
    ).content.decode()
    assert 'class="holder">pod-a<' in page and "older than 90 days are deleted daily" in page
    events = v1.client.get(
        "/v1/events", {"IP": ip, "ReqType": ReqType.REQUIRE_IP}, HTTP_AUTHORIZATION=f"Bearer {operator_token}"
    ).json()
    assert {e["K8SPodID"] for e in events["Results"]} == {"pod-a"}


def test_a_binding_that_ended_within_the_retention_keeps_its_proof(v1, admin_client):
    """pod-a was bound 100 days ago and let go 10 days ago: who held the IP 50 days ago is still known."""
    v1.create_pool(1)
    ip = v1.require("pod-a").json()["IP"]
    age(90)
    v1.release("pod-a")
    age(10)

    prune("--older-than", "90")

    assert requires_of("pod-a")
    assert history.holder_at(ip=ip, at=timezone.now() - 50 * DAY).pod_id == "pod-a"
    assert history.holder_at(ip=ip, at=timezone.now() - 5 * DAY).pod_id is None
    assert_consistent()


def test_a_binding_that_ended_before_the_cutoff_goes_even_if_the_pod_binds_again(v1):
    """pod-a held the address, let go, and holds it again: only the current binding's proof stays."""
    v1.create_pool(1)
    v1.require("pod-a")
    v1.release("pod-a")
    age(1)
    first_binding = requires_of("pod-a")
    v1.require("pod-a")
    current = requires_of("pod-a") - first_binding
    age(100)

    prune("--older-than", "90")

    assert requires_of("pod-a") == current
    assert_consistent()


def test_the_prune_runs_own_events_are_never_pruned(v1):
    v1.create_pool(1)
    age(100)
    prune("--older-than", "90")
    first_run = prune_event().pk
    age(400)

    prune("--older-than", "90")

    runs = AuditEvent.objects.filter(admin_action=AdminAction.AUDIT_PRUNE)
    assert first_run in {run.pk for run in runs} and runs.count() == 2
    assert event_ids() == {run.pk for run in runs}


# Batches -------------------------------------------------------------------------------------------


def test_a_tiny_batch_size_deletes_everything_eligible_over_several_batches(v1):
    v1.create_pool(1)
    v1.require("pod-a")  # stays bound: its proof is kept, and batches step over it
    for n in range(11):
        v1.release(f"ghost-{n}")  # "nothing bound": success, nothing to do
    age(100)
    kept = requires_of("pod-a")
    eligible = len(event_ids() - kept)

    out, _ = prune("--older-than", "90", "--batch-size", "3", "--verbosity", "2")

    assert event_ids() - {prune_event().pk} == kept
    detail = prune_event().detail
    assert detail["deleted"] == eligible and detail["batch_size"] == 3
    assert detail["batches"] == batches_in(out) >= math.ceil(eligible / 3)
    assert out.count("batch ") == detail["batches"]


def test_events_of_the_same_instant_are_all_reached_across_batch_boundaries(v1):
    v1.create_pool(1)
    v1.require("pod-a")
    for n in range(6):
        v1.release(f"ghost-{n}")
    then = timezone.now() - 100 * DAY
    AuditEvent.objects.update(at=then)  # one instant: batches part by id
    Lease.objects.update(bound_at=then)
    kept = requires_of("pod-a")

    prune("--older-than", "90", "--batch-size", "2")

    assert event_ids() - {prune_event().pk} == kept


def test_batches_are_counted_alike_in_a_dry_run(v1):
    v1.create_pool(1)
    for n in range(7):
        v1.release(f"ghost-{n}")
    age(100)
    eligible = len(event_ids())
    dry, _ = prune("--older-than", "90", "--batch-size", "2", "--dry-run")
    real, _ = prune("--older-than", "90", "--batch-size", "2")
    assert batches_in(dry) == batches_in(real) == math.ceil(eligible / 2)


# 0 days, the setting, a dry run -------------------------------------------------------------------


@override_settings(IPRESMGR_AUDIT_RETENTION_DAYS=0)
def test_zero_days_keeps_everything_and_says_so(v1):
    v1.create_pool(1)
    age(10_000)
    before = event_ids()
    for args in ((), ("--older-than", "0")):
        out, _ = prune(*args)
        assert "retention is 0 days: every audit event is kept" in out
    assert event_ids() == before  # and no event of a run that did nothing


@override_settings(IPRESMGR_AUDIT_RETENTION_DAYS=30)
def test_the_default_comes_from_the_setting(v1):
    v1.create_pool(1)
    age(40)
    old = event_ids()
    v1.scale_pool(2)
    age(20)
    out, _ = prune()
    assert "(30 days)" in out
    assert not old & event_ids()
    assert prune_event().detail["older_than_days"] == 30


def test_a_dry_run_changes_nothing_and_tells_what_would_go(v1):
    v1.create_pool(1)
    v1.require("pod-a")
    v1.release("pod-a")
    age(100)
    before = list(AuditEvent.objects.order_by("pk").values())

    out, _ = prune("--older-than", "90", "--dry-run")

    assert list(AuditEvent.objects.order_by("pk").values()) == before
    assert f"would delete {len(before)} audit events" in out


def test_a_negative_age_or_batch_size_is_refused(db):
    with pytest.raises(CommandError):
        prune("--older-than", "-1")
    with pytest.raises(CommandError, match="batch size 0"):
        prune("--batch-size", "0")


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
