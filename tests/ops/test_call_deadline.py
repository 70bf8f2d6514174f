"""A call past IPRESMGR_DB_CALL_TIMEOUT_MS is cancelled and answers Code 50, outcome unknown; the
next call works. The wait here is a table lock held by another session (the COMMIT stuck on a
stalled synchronous standby, which statement_timeout cannot bound, is .ci/stages/75-failover.sh)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from contract.framework.envelope import OUTCOME_UNKNOWN_MSG, UNAVAILABLE_MSG
from core.choices import AdminAction
from leases.models import Lease
from pools import services
from tests.support.api import V1, command_ctx, holder, make_subnet

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def live_v1(transactional_db, settings) -> V1:
    _, key = services.cluster_create(ctx=command_ctx(AdminAction.CLUSTER_CREATE), cluster_id="c1")
    make_subnet()
    assert V1(key).create_pool(3).json()["Code"] == 0
    settings.IPRESMGR_DB_CALL_TIMEOUT_MS = 1000  # below the lock timeout (3000 ms)
    return V1(key)  # a new test client: its middleware reads the setting above


def test_a_call_stuck_past_the_call_timeout_answers_code_50_outcome_unknown(live_v1):
    with psycopg.connect(**connection.get_connection_params(), autocommit=False) as holder_session:
        holder_session.execute(f'LOCK TABLE "{Lease._meta.db_table}" IN ACCESS EXCLUSIVE MODE')
        stuck = live_v1.require("pod-a", req_id="req-stuck")
        holder_session.rollback()

    assert stuck.status_code == 503
    body = stuck.json()
    assert (body["ReqID"], body["Code"], body["Msg"]) == ("req-stuck", 50, OUTCOME_UNKNOWN_MSG)
    assert body["Msg"] != UNAVAILABLE_MSG  # the watchdog's answer, not the lock timeout's
    assert "IP" not in body
    # The retry the Msg asks for: the same pod gets one address, bound to it.
    again = live_v1.require("pod-a")
    assert again.json()["Code"] == 0, again.content
    assert holder(again.json()["IP"]) == "pod-a"
    assert Lease.objects.filter(pod_id="pod-a").count() == 1


def test_calls_within_the_timeout_are_not_touched(live_v1):
    for n in range(4):  # the target and its surge
        assert live_v1.require(f"pod-{n}").json()["Code"] == 0
