"""Readiness, outages and crashes on a live gunicorn (docker/gunicorn.conf.py, one worker):
/readyz waits for the migrations, answers 503 with a JSON reason while the database is away (within
the connect timeout: the HTTP client's own timeout bounds the test, nothing is timed), a crash is
one log line with its traceback."""

from __future__ import annotations

import socket

import pytest

from tests.support.live import LiveDatabase, LiveServer, contract_body
from tests.support.servers import app_env

SECRET = {"IPRESMGR_SECRET_KEY": "readiness-secret-key-" + "r" * 40}


@pytest.fixture
def started(tmp_path):
    servers: list[LiveServer] = []

    def start(env: dict, **extra_env: str) -> LiveServer:
        server = LiveServer(env, tmp_path, workers=1, extra_env={**SECRET, **extra_env})
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_readyz_is_503_until_migrated_then_200(tmp_path, started):
    database = LiveDatabase(tmp_path, "unmigrated")
    try:
        server = started(database.env)
        assert server.get("/healthz").status == 200
        answer = server.get("/readyz")
        assert answer.status == 503
        assert answer.json()["status"] == "unavailable"
        assert "unapplied migrations" in answer.json()["reason"] and "manage.py migrate" in answer.json()["reason"]
        database.migrate()
        answer = server.get("/readyz")
        assert answer.status == 200 and answer.json()["status"] == "ready"
    finally:
        database.drop()


def closed_port() -> int:
    """A port nothing listens on (bound, then closed again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_unreachable_readyz_503_calls_code_50_metrics_still_answer(tmp_path, started):
    env = app_env(DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed_port()}/nowhere", IPRESMGR_SQLITE_PATH=None)
    server = started(env, IPRESMGR_DB_CONNECT_TIMEOUT_S="2")

    assert server.get("/healthz").status == 200  # liveness does not depend on the database
    answer = server.get("/readyz")
    assert answer.status == 503
    assert answer.json() == {"status": "unavailable", "reason": "database unreachable or failing (OperationalError)"}

    answer = server.post("/v1/ip/require", contract_body("outage-1", K8SPodID="p"), "ipr_some-token")
    assert (answer.status, answer.json()["Code"]) == (503, 50)
    [line] = [line for line in server.call_lines() if line["ReqID"] == "outage-1"]
    assert line["level"] == "warning" and line["Code"] == 50 and line["status"] == 503
    assert "database" in line["error"]

    figures = server.metrics()
    assert figures[("ipresmgr_database_up", ())] == 0
    assert figures[("ipresmgr_v1_unavailable_total", (("endpoint", "/v1/ip/require"),))] == 1
    assert figures[("ipresmgr_db_errors_total", (("error", "connection"),))] == 1
    assert not [key for key in figures if key[0].startswith("ipresmgr_pool_")]


def test_a_crash_is_one_log_line_with_its_traceback(tmp_path, started):
    database = LiveDatabase(tmp_path, "crash")
    try:
        token = database.prepare()
        server = started(database.env, DJANGO_SETTINGS_MODULE="tests.support.crash_settings")
        body = contract_body("crash-1", K8SPodID="pod-c", K8SApiResourceID="")
        answer = server.post("/v1/test/crash", body, token)
        assert (answer.status, answer.json()["Code"]) == (500, 99)
        assert "boom" not in answer.body.decode()

        [line] = [line for line in server.call_lines() if line["ReqID"] == "crash-1"]
        assert line["level"] == "error" and line["Code"] == 99 and line["status"] == 500
        assert line["traceback"].startswith("Traceback (most recent call last)")
        assert 'raise RuntimeError("boom")' in line["traceback"] and "RuntimeError: boom" in line["traceback"]
        # Nothing else was logged about it: not the view's own error line, not Django's.
        others = [line for line in server.log_lines() if line.get("logger") not in ("ipresmgr.calls", "gunicorn.error")]
        assert [line for line in others if "crash" in str(line) or "Internal Server Error" in str(line)] == []
        assert token not in server.logs()
    finally:
        database.drop()
