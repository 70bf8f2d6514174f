"""`manage.py prune_audit`: old audit events go in small batches; what still proves a binding stays.

"Old" is made by moving what the API wrote back in time (events and the leases' bound_at together,
as if the calls had been made then), never by faking the clock or the database."""

from __future__ import annotations

import io
import math

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from audit import history
from audit.models import AuditEvent
from core.choices import AdminAction, ReqType
from leases.models import Lease
from tests.support.retention import (
    DAY,
    age,
    assert_consistent,
    batches_in,
    event_ids,
    prune,
    prune_event,
    requires_of,
)

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
