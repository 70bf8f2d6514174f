"""A lock queue that outlasts the lock timeout: the caller gets Code 50 / HTTP 503 as JSON,
within seconds, and the call works again once the lock is gone. In the main suite (PostgreSQL)."""

from __future__ import annotations

import os
import time

import psycopg
import pytest
from django.db import connection

from tests.support.api import V1


@pytest.mark.postgres_only
def test_require_behind_a_held_pool_lock_answers_503_within_seconds(transactional_db, cluster_token, subnet, settings):
    v1 = V1(cluster_token)
    assert v1.create_pool(2).json()["Code"] == 0
    blocker_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    with psycopg.connect(blocker_url, connect_timeout=5) as blocker:
        blocker.execute("SELECT id FROM pools_pool WHERE name = 'web' FOR UPDATE")  # held until rollback
        started = time.monotonic()
        answer = v1.require("pod-1")
        waited = time.monotonic() - started
        blocker.rollback()
    assert answer.status_code == 503 and answer["Content-Type"] == "application/json"
    assert answer.json()["Code"] == 50 and answer.json()["ReqID"] == "req-require"
    # It waited for the lock, then gave up on the lock timeout: not at once, and not until someone
    # else gives up (the bound is generous, for a slow shared machine).
    assert settings.DB_LOCK_TIMEOUT_MS / 1000 <= waited < settings.DB_LOCK_TIMEOUT_MS / 1000 + 30
    assert v1.require("pod-1").json()["Code"] == 0
