"""Bounded reads of the audit log (issue 12): counts exact only up to a bound, keyset pages, Offset
refused past its bound, the read timeout answered as "narrow your query", indexes that serve the
filters, and the console's list that never counts the whole table."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext, override_settings
from rest_framework.serializers import Serializer
from rest_framework.test import APIClient

from audit.models import AuditEvent
from bench.audit_table import DAYS, insert_events
from contract.serializers import EventOut
from core import bounded_reads
from core.choices import AdminAction, Code, ReqType
from pools import services
from tests.support.admin import changelist, page_messages
from tests.support.api import CLUSTER, command_ctx

T0 = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)
AUDIT = AuditEvent._meta.db_table


def get(token: str, path: str, **params):
    return APIClient().get(path, params, HTTP_AUTHORIZATION=f"Bearer {token}")


def follow(token: str, url: str):
    return APIClient().get(url, HTTP_AUTHORIZATION=f"Bearer {token}")


def events(n: int, *, cluster: str = CLUSTER, same_time_every: int = 3, start=T0, **fields) -> list[AuditEvent]:
    """`n` RequireIP events from `start` on, `same_time_every` of them sharing each time (ties in `at`)."""
    rows = [
        AuditEvent(
            at=start + timedelta(seconds=k // same_time_every),
            req_type=ReqType.REQUIRE_IP,
            req_id=f"bulk-{k}",
            k8s_cluster_id=cluster,
            pod_id=f"pod-{k}",
            code=Code.SUCCESS,
            actor="test",
            **fields,
        )
        for k in range(n)
    ]
    return AuditEvent.objects.bulk_create(rows)


def newest_first_ids(**filters) -> list[int]:
    return list(AuditEvent.objects.filter(**filters).order_by("-at", "-id").values_list("id", flat=True))


# Counts ------------------------------------------------------------------------------------------


@override_settings(IPRESMGR_READ_COUNT_BOUND=5)
def test_count_is_exact_up_to_the_bound(operator_token):
    events(5 - AuditEvent.objects.count())  # the fixture's own events count too
    body = get(operator_token, "/v1/events", Limit=2).json()
    assert (body["Count"], body["CountExact"]) == (5, True)
    assert body["Msg"] == "2 of 5"


@override_settings(IPRESMGR_READ_COUNT_BOUND=5)
def test_count_above_the_bound_is_flagged_not_exact(operator_token):
    events(20)
    body = get(operator_token, "/v1/events", Limit=2).json()
    assert (body["Code"], body["Count"], body["CountExact"]) == (0, 5, False)
    assert body["Msg"] == "2 of more than 5"
    assert len(body["Results"]) == 2 and body["Next"]


@override_settings(IPRESMGR_READ_COUNT_BOUND=5)
def test_every_read_list_bounds_its_count(v1, operator_token):
    for n in range(7):
        assert v1.create_pool(1, name=f"web-{n}").json()["Code"] == 0
    pools = get(operator_token, "/v1/pools", Limit=3).json()
    assert (pools["Count"], pools["CountExact"], pools["Msg"]) == (5, False, "3 of more than 5")
    page = follow(operator_token, pools["Next"]).json()
    assert [row["K8SApiResourceName"] for row in page["Results"]] == ["web-3", "web-4", "web-5"]
    last = follow(operator_token, page["Next"]).json()
    assert [row["K8SApiResourceName"] for row in last["Results"]] == ["web-6"] and last["Next"] is None
    subnets = get(operator_token, "/v1/subnets").json()
    assert (subnets["Count"], subnets["CountExact"]) == (1, True)


def test_bounded_count_reads_at_most_the_bound_and_one_row(db):
    events(30)
    with CaptureQueriesContext(connection) as queries:
        counted = bounded_reads.bounded_count(AuditEvent.objects.order_by("-at", "-id"), bound=10)
    assert (counted.n, counted.exact, str(counted)) == (10, False, "more than 10")
    (sql,) = [q["sql"] for q in queries.captured_queries]
    assert "LIMIT 11" in sql


# Keyset pages ------------------------------------------------------------------------------------


def walk(token: str, first_url: str, link: str = "Next") -> tuple[list[int], list[dict]]:
    ids, bodies = [], []
    url = first_url
    while url:
        body = follow(token, url).json()
        assert body["Code"] == 0, body
        ids += [row["ID"] for row in body["Results"]]
        bodies.append(body)
        url = body[link]
    return ids, bodies


def test_cursor_pages_walk_every_event_once_across_equal_times(operator_token):
    events(40, same_time_every=4)
    ids, bodies = walk(operator_token, "/v1/events?Limit=3")
    assert ids == newest_first_ids()
    assert all("Cursor=" in body["Next"] and "Offset" not in body["Next"] for body in bodies[:-1])
    assert bodies[-1]["Next"] is None


def test_cursor_pages_walk_back_with_previous(operator_token):
    events(20, same_time_every=5)
    forward, bodies = walk(operator_token, "/v1/events?Limit=4")
    back, _ = walk(operator_token, bodies[-1]["Previous"], link="Previous")
    last_page = [row["ID"] for row in bodies[-1]["Results"]]
    # Previous pages come newest page last; each page is in the list's order.
    pages_back = [forward[k : k + 4] for k in range(0, len(forward) - len(last_page), 4)][::-1]
    assert back == [i for page in pages_back for i in page]


def test_cursor_pages_keep_the_filters_and_an_ascending_order(operator_token, other_cluster_token):
    events(12, same_time_every=2)
    events(12, cluster="c2", same_time_every=2)
    ids, _ = walk(operator_token, "/v1/events?Limit=5&K8SClusterID=c2&Ordering=At")
    assert ids == list(AuditEvent.objects.filter(k8s_cluster_id="c2").order_by("at", "id").values_list("id", flat=True))


def test_rows_written_meanwhile_shift_nothing_on_later_pages(operator_token):
    events(10, start=T0 - timedelta(days=1))
    before = newest_first_ids()
    first = get(operator_token, "/v1/events", Limit=4).json()
    events(5, start=T0 + timedelta(days=1))  # newer events arrive while the caller pages
    ids, _ = walk(operator_token, first["Next"])
    assert [row["ID"] for row in first["Results"]] + ids == before


def test_cluster_token_pages_its_own_cluster(cluster_token, other_cluster_token):
    events(9)
    events(9, cluster="c2")
    ids, _ = walk(cluster_token, "/v1/events?Limit=4")
    assert ids == newest_first_ids(k8s_cluster_id=CLUSTER)


@override_settings(IPRESMGR_READ_OFFSET_MAX=5)
def test_offset_up_to_its_bound_still_pages(operator_token):
    events(12)
    body = get(operator_token, "/v1/events", Limit=3, Offset=5).json()
    assert [row["ID"] for row in body["Results"]] == newest_first_ids()[5:8]
    assert "Offset=2" in body["Previous"] and "Cursor=" in body["Next"]


@override_settings(IPRESMGR_READ_OFFSET_MAX=5)
def test_offset_beyond_its_bound_is_refused_pointing_to_the_cursor(operator_token):
    events(12)
    response = get(operator_token, "/v1/events", Offset=6)
    body = response.json()
    assert response.status_code == 400 and body["Code"] == Code.INVALID_REQUEST
    assert body["Msg"].startswith("Offset: must be an integer from 0 to 5") and "Cursor of Next" in body["Msg"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"Cursor": "not-a-cursor"}, "Cursor"),
        ({"Cursor": "eyJrIjpbIi1hdCJdfQ"}, "Cursor"),  # valid base64 JSON, not ours
        ({"Cursor": "x", "Offset": "3"}, "Offset"),
        # Ours in form, but a time without an offset, one PostgreSQL would refuse, an ID past 64 bits:
        ({"Cursor": bounded_reads.Cursor(("-at", "-id"), ("2026-05-04T14:00:00", 1)).encode()}, "Cursor"),
        ({"Cursor": bounded_reads.Cursor(("-at", "-id"), ("0001-01-01T00:00:00+01:00", 1)).encode()}, "Cursor"),
        ({"Cursor": bounded_reads.Cursor(("-at", "-id"), ("2026-05-04T14:00:00+00:00", 2**70)).encode()}, "Cursor"),
    ],
)
def test_bad_cursor_is_code_1_naming_it(operator_token, params, field):
    response = get(operator_token, "/v1/events", **params)
    assert response.status_code == 400 and response.json()["Msg"].startswith(f"{field}:"), response.json()


def test_cursor_of_another_ordering_is_refused(operator_token):
    events(6)
    newest = get(operator_token, "/v1/events", Limit=2).json()["Next"]
    response = follow(operator_token, newest + "&Ordering=At")
    assert response.status_code == 400
    assert response.json()["Msg"] == "Cursor: made for another Ordering"


# The read timeout and read slots (PostgreSQL) -----------------------------------------------------


class HeldByAnotherConnection:
    """Another session of the test database holding a lock: the read under test must wait for it,
    so its timeout fires every time, whatever the machine's speed."""

    def __init__(self, *statements: str):
        self.statements = statements

    def __enter__(self):
        self.connection = connections.create_connection("default")
        self.connection.set_autocommit(False)
        with self.connection.cursor() as cursor:
            for statement in self.statements:
                cursor.execute(statement)
        return self

    def __exit__(self, *exc):
        self.connection.rollback()
        self.connection.close()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_read_past_the_read_timeout_is_code_1_asking_to_narrow(operator_token):
    with (
        override_settings(IPRESMGR_READ_STATEMENT_TIMEOUT_MS=1),
        HeldByAnotherConnection(f"LOCK TABLE {AUDIT} IN ACCESS EXCLUSIVE MODE"),
    ):
        response = get(operator_token, "/v1/events", Code=11)
    body = response.json()
    assert response.status_code == 400 and body["Code"] == Code.INVALID_REQUEST, body
    assert body["Msg"].startswith("query too broad: it would take longer than 1 ms; narrow it with a time window")
    # The connection is fine afterwards, and the writers' own timeout is back.
    assert get(operator_token, "/v1/events", Limit=1).json()["Code"] == 0
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] != "1ms"


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
@override_settings(IPRESMGR_READ_STATEMENT_TIMEOUT_MS=1)
def test_console_read_past_the_read_timeout_shows_a_message_not_an_error(admin_client, operator_token):
    with HeldByAnotherConnection(f"LOCK TABLE {AUDIT} IN ACCESS EXCLUSIVE MODE"):
        response = admin_client.get(changelist("auditevent"), {"code__exact": 12})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
    assert any(
        "query too broad" in message and "narrow it with the date" in message for message in page_messages(response)
    )


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
@override_settings(IPRESMGR_READ_CONCURRENCY=1)
def test_read_finding_every_read_slot_taken_is_code_50_busy(operator_token):
    with (
        override_settings(IPRESMGR_READ_STATEMENT_TIMEOUT_MS=1),
        HeldByAnotherConnection(f"SELECT pg_advisory_lock({bounded_reads.READ_SLOT_LOCK_SPACE}, 0)"),
    ):
        response = get(operator_token, "/v1/events")
    assert (response.status_code, response.json()["Code"]) == (503, Code.UNAVAILABLE)
    assert get(operator_token, "/v1/events").json()["Code"] == 0  # the slot is free again


# Indexes (PostgreSQL, on a realistic fill) ---------------------------------------------------------


@pytest.fixture
def realistic_log(db) -> dict:
    """60,000 events as the benchmark fills them (90 days, five clusters, a few percent refusals),
    then ANALYZE, so the planner chooses as it would on a big table. Tokens: of the cluster `bench`
    (a fifth of the events), of a cluster with none, and an operator's."""
    rows = 60_000
    with connection.cursor() as cursor:
        # Loading the table is the test's setup, not a call: a slow machine may take longer than the
        # service's statement timeout for it. The timeout is back for what the test then runs.
        cursor.execute("SHOW statement_timeout")
        service_timeout = cursor.fetchone()[0]
        cursor.execute("SET LOCAL statement_timeout = 0")
        insert_events(cursor, rows=rows, first=1, last=rows, start=datetime.now(UTC) - timedelta(days=DAYS))
        cursor.execute(f"ANALYZE {AUDIT}")
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [service_timeout])
    _, cluster_token = services.cluster_create(ctx=command_ctx(AdminAction.CLUSTER_CREATE), cluster_id="bench")
    _, small_cluster_token = services.cluster_create(ctx=command_ctx(AdminAction.CLUSTER_CREATE), cluster_id="c9")
    _, operator_token = services.token_create(ctx=command_ctx(AdminAction.TOKEN_CREATE), cluster=None)
    return {"cluster": cluster_token, "small cluster": small_cluster_token, "operator": operator_token}


def plans_of_audit_reads(token: str, **params) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        body = get(token, "/v1/events", **params).json()
    assert body["Code"] == 0, body
    plans = []
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            if AUDIT in query["sql"] and query["sql"].lstrip().upper().startswith("SELECT"):
                cursor.execute("EXPLAIN " + query["sql"])
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
    assert len(plans) == 2  # the bounded count and the page
    return plans


@pytest.mark.postgres_only
@pytest.mark.parametrize(
    ("token", "params", "index"),
    [
        # A fifth of the log: the newest rows of (at, id) soon give a page, or the cluster's index.
        ("cluster", {}, "audit_"),
        ("small cluster", {}, "audit_cluster_at_idx"),
        ("cluster", {"Code": 11}, "audit_refusal_at_idx"),
        ("operator", {"Code": 11}, "audit_refusal_at_idx"),
        ("cluster", {"K8SNamespace": "ns-7"}, "audit_namespace_at_idx"),
        ("operator", {}, "audit_at_id_idx"),
        ("operator", {"K8SApiResourceName": "app-42"}, "audit_name_at_idx"),
    ],
)
def test_filters_are_served_by_an_index_of_the_audit_table(realistic_log, token, params, index):
    for plan in plans_of_audit_reads(realistic_log[token], **params):
        assert "Seq Scan" not in plan, plan
        assert re.search(rf"(using|on) {index}", plan), plan  # an index scan, or a bitmap one


# The console's list ------------------------------------------------------------------------------


@override_settings(IPRESMGR_READ_COUNT_BOUND=5)
def test_console_list_never_counts_the_whole_table(admin_client):
    events(30)
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(changelist("auditevent"))
    assert response.status_code == 200
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper() and AUDIT in q["sql"]]
    assert counts and all("LIMIT 6" in sql for sql in counts), counts
    assert "more than 5 audit events" in response.content.decode()
    assert len(response.context["cl"].result_list) == 5  # the newest 5: 100 a page, bounded at 5


@override_settings(IPRESMGR_READ_COUNT_BOUND=5)
def test_console_list_under_the_bound_counts_exactly(admin_client):
    AuditEvent.objects.all().delete()
    events(3)
    page = admin_client.get(changelist("auditevent")).content.decode()
    assert "3 audit events" in page and "more than" not in page


def test_events_are_written_as_their_serializer_fields_describe(v1, operator_token):
    v1.create_pool(1)
    v1.require("pod-1")
    v1.require("pod-2", namespace="elsewhere")  # a refusal, Code 20
    for event in AuditEvent.objects.all():
        assert EventOut().to_representation(event) == Serializer.to_representation(EventOut(), event)
