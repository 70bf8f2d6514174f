"""A database that accepts no writes is an outage, not a bug: Code 50 / HTTP 503, the connection
dropped and the next call connected afresh, /readyz 503 meanwhile, /healthz untouched. Through the
real HTTP API on a real PostgreSQL (the failover itself, with a standby, is .ci/stages/75-failover.sh)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection
from django.test import Client

from audit.models import AuditEvent
from contract.framework.envelope import READ_ONLY_MSG
from core.choices import AdminAction
from ipresmgr_site import metrics
from ipresmgr_site.database import ServerIdentity, note_server
from pools import services
from tests.support.api import V1, command_ctx, holder, make_subnet

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def live_v1(transactional_db) -> V1:
    """A caller outside any test transaction, so connections really close and reopen."""
    _, key = services.cluster_create(ctx=command_ctx(AdminAction.CLUSTER_CREATE), cluster_id="c1")
    make_subnet()
    caller = V1(key)
    assert caller.create_pool(3).json()["Code"] == 0
    return caller


def set_database_read_only(read_only: bool) -> None:
    """ALTER DATABASE from a connection of its own (one that may still write)."""
    params = connection.get_connection_params()
    params["options"] = "-c default_transaction_read_only=off"
    with psycopg.connect(**params, autocommit=True) as admin:
        value = "on" if read_only else "off"
        admin.execute(
            f'ALTER DATABASE "{connection.settings_dict["NAME"]}" SET default_transaction_read_only = {value}'
        )


def test_a_read_only_session_is_replaced_and_the_call_succeeds(live_v1):
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    spoiled = connection.connection

    response = live_v1.require("pod-a")

    assert response.status_code == 200, response.content
    assert response.json()["Code"] == 0
    assert holder(response.json()["IP"]) == "pod-a"
    assert connection.connection is not spoiled  # dropped, not kept for its 600 s


def test_a_database_that_accepts_no_writes_answers_code_50_and_is_not_ready(live_v1):
    set_database_read_only(True)
    connection.close()
    try:
        refused = live_v1.require("pod-a")
        not_ready = Client().get("/readyz")
        alive = Client().get("/healthz")
    finally:
        set_database_read_only(False)

    assert refused.status_code == 503
    assert refused.json()["Code"] == 50
    assert refused.json()["Msg"] == READ_ONLY_MSG
    assert not_ready.status_code == 503
    assert "accepts no writes" in not_ready.json()["reason"]
    assert alive.status_code == 200
    # Writable again: the next call and probe connect afresh and succeed, no restart.
    again = live_v1.require("pod-a")
    assert again.json()["Code"] == 0, again.content
    assert holder(again.json()["IP"]) == "pod-a"
    assert Client().get("/readyz").status_code == 200
    assert not AuditEvent.objects.filter(code=50).exists()  # nowhere to write it; the log line is the record


def test_a_write_refused_as_read_only_inside_a_pool_call_is_code_50(live_v1):
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    set_database_read_only(True)
    try:
        response = live_v1.scale_pool(5)  # retried on a fresh connection, which is refused too
    finally:
        set_database_read_only(False)
    assert response.status_code == 503
    assert response.json()["Code"] == 50
    assert live_v1.scale_pool(5).json()["Code"] == 0


def failovers_counted() -> float:
    return metrics.DB_FAILOVERS._value.get()


def test_a_new_server_or_timeline_is_counted_once_as_a_failover(transactional_db):
    with connection.cursor() as cursor:  # whatever this process saw first, it sees this one now
        cursor.execute("SELECT system_identifier::text FROM pg_control_system()")
        system_identifier = cursor.fetchone()[0]
    before = failovers_counted()
    primary = ServerIdentity(system_identifier, 1)
    note_server(primary)
    assert note_server(primary) is False
    assert note_server(ServerIdentity(system_identifier, 2)) is True  # a promoted standby
    assert note_server(ServerIdentity(system_identifier, 2)) is False
    assert note_server(ServerIdentity("another-cluster", 1)) is True  # a restore elsewhere
    assert failovers_counted() == before + 2
    page = Client().get("/metrics").content.decode()
    assert f"ipresmgr_db_failovers_total {before + 2}" in page
