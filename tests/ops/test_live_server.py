"""The service as the image serves it (gunicorn, docker/gunicorn.conf.py, two worker processes),
over real HTTP on a database of its own: metrics summed over both workers, one JSON log line per
/v1 call with its fields and no secret, JSON answers at gunicorn's edge, a clean SIGTERM.

Which worker takes a connection is the kernel's choice; to know, a test pauses the other worker
(SIGSTOP), so that only one can accept, then lets it go on (SIGCONT).

On PostgreSQL, the engine the image serves: several processes on one SQLite file are not supported
(docs/operations.md), and a worker paused while it closes the file's last connection would hold its lock."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.support.live import CLUSTER, REGION, SUBNET, LiveDatabase, LiveServer, contract_body

pytestmark = pytest.mark.postgres_only

REQUIRE = "/v1/ip/require"


@pytest.fixture(scope="module")
def live_db(tmp_path_factory) -> Iterator[tuple[LiveDatabase, str]]:
    database = LiveDatabase(tmp_path_factory.mktemp("live"), "live")
    token = database.prepare()
    yield database, token
    database.drop()


@pytest.fixture(scope="module")
def server(live_db, tmp_path_factory) -> Iterator[LiveServer]:
    database, _ = live_db
    live = LiveServer(
        database.env,
        tmp_path_factory.mktemp("live-server"),
        extra_env={"IPRESMGR_SECRET_KEY": "live-secret-key-" + "k" * 40, "IPRESMGR_INSTANCE": "live-1"},
    )
    yield live
    live.stop()


@pytest.fixture(scope="module")
def token(live_db) -> str:
    return live_db[1]


@contextmanager
def only_worker(server: LiveServer, index: int) -> Iterator[int]:
    """Every other worker paused: connections made now are accepted by this one."""
    pids = server.worker_pids()
    assert len(pids) == 2, pids
    paused = [pid for i, pid in enumerate(pids) if i != index]
    for pid in paused:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield pids[index]
    finally:
        for pid in paused:
            os.kill(pid, signal.SIGCONT)


def calls_total(figures: dict, endpoint: str, code: int) -> float:
    return figures.get(("ipresmgr_v1_calls_total", (("code", str(code)), ("endpoint", endpoint))), 0.0)


def lines_for(server: LiveServer, req_id: str) -> list[dict]:
    return [line for line in server.call_lines() if line.get("ReqID") == req_id]


def test_calls_answered_by_both_workers_are_summed_in_every_scrape(server, token):
    before = server.metrics()
    answered_by = {}
    for index in (0, 1):
        with only_worker(server, index) as pid:
            for n in range(3):
                req_id = f"w{index}-{n}"
                answer = server.post(REQUIRE, contract_body(req_id, K8SPodID="p", K8SApiResourceName="nopool"), token)
                assert answer.json()["Code"] == 20
                answered_by[req_id] = pid
    # The log lines name the process that answered: both did.
    for req_id, pid in answered_by.items():
        assert [line["pid"] for line in lines_for(server, req_id)] == [pid]
    # A scrape answered by either worker counts the calls of both.
    for index in (0, 1):
        with only_worker(server, index):
            figures = server.metrics()
        assert calls_total(figures, REQUIRE, 20) == calls_total(before, REQUIRE, 20) + 6
        count = ("ipresmgr_v1_call_duration_seconds_count", (("endpoint", REQUIRE),))
        assert figures[count] == before.get(count, 0) + 6


def test_database_gauges_after_a_create_and_a_require(server, token):
    # Two pods on a pool of two: full, so it has series (IPRESMGR_METRICS_POOLS=full, the default).
    assert server.post("/v1/ippool/create", pool_create("gauged", 2), token).json()["Code"] == 0
    for pod in ("pod-g1", "pod-g2"):
        answer = server.post(REQUIRE, contract_body(K8SApiResourceName="gauged", K8SPodID=pod), token).json()
        assert answer["Code"] == 0
    figures = server.metrics()
    pool = tuple(sorted({"cluster": CLUSTER, "kind": "0", "namespace": "default", "subnet_id": SUBNET}.items()))
    pool += (("workload", "gauged"),)
    gauges = [figures[(f"ipresmgr_pool_{name}", pool)] for name in ("target", "reserved", "bound", "idle")]
    assert gauges == [2, 2, 2, 0]
    assert figures[("ipresmgr_pools_full", ())] >= 1
    subnet = (("net_regional_id", REGION), ("subnet_id", SUBNET))
    assert figures[("ipresmgr_subnet_capacity", subnet)] == 253
    assert figures[("ipresmgr_subnet_reserved", subnet)] >= 2
    assert figures[("ipresmgr_database_up", ())] == 1


def pool_create(name: str, replicas: int) -> dict:
    return contract_body(
        K8SApiResourceName=name,
        K8SApiResourceReplicas=replicas,
        NetRegionalID=REGION,
        SubnetID=SUBNET,
        SubnetGatewayAddr="10.30.0.1",
    )


def test_each_v1_call_is_one_json_line_with_its_fields(server, token):
    server.post("/v1/ippool/create", pool_create("logged", 2), token)
    body = contract_body("log-require-1", K8SApiResourceName="logged", K8SPodID="pod-l1", K8SApiResourceID="uid-1")
    answer = server.post(REQUIRE, body, token).json()
    assert answer["Code"] == 0

    [line] = lines_for(server, "log-require-1")
    assert line["level"] == "info" and line["logger"] == "ipresmgr.calls"
    assert line["time"].endswith("Z")
    expected = {
        "endpoint": REQUIRE,
        "cluster": CLUSTER,
        "namespace": "default",
        "kind": 0,
        "workload": "logged",
        "pod": "pod-l1",
        "ip": answer["IP"],
        "Code": 0,
        "status": 200,
        "instance": "live-1",
        "msg": answer["Msg"],
    }
    assert {key: line[key] for key in expected} == expected
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert line["pid"] in server.worker_pids()
    assert "traceback" not in line and "error" not in line


def test_a_storm_of_wrong_tokens_is_one_line_per_call_and_no_secret_is_logged(server, token):
    wrong = "ipr_" + "w" * 43
    for n in range(20):
        answer = server.post(REQUIRE, contract_body(f"storm-{n}", K8SPodID="p"), wrong)
        assert (answer.status, answer.json()["Code"]) == (401, 2)
    answer = server.post(REQUIRE, contract_body("storm-good", K8SPodID="p"), token)
    assert answer.json()["Code"] == 20

    for n in range(20):
        [line] = lines_for(server, f"storm-{n}")
        assert (line["Code"], line["status"]) == (2, 401)
    everything = server.logs()
    assert "Unauthorized" not in everything
    for secret in (wrong, token):
        assert secret not in everything
        assert hashlib.sha256(secret.encode()).hexdigest() not in everything
        assert secret[:12] not in everything  # not even a token's stored prefix


def test_an_unknown_v1_path_is_one_line_and_counted_as_other(server, token):
    before = server.metrics()
    answer = server.post("/v1/no/such/endpoint", contract_body("unknown-path"), token)
    assert (answer.status, answer.json()["Code"]) == (404, 1)
    [line] = [line for line in server.call_lines() if line["status"] == 404 and line["Code"] == 1]
    assert line["endpoint"] == "other"
    assert calls_total(server.metrics(), "other", 1) == calls_total(before, "other", 1) + 1


@pytest.mark.parametrize(
    ("what", "path", "headers", "status"),
    [
        ("request line over 4094 bytes", "/v1/ip/require?x=" + "a" * 5000, {}, 414),
        ("a header over 8190 bytes", REQUIRE, {"X-Big": "b" * 9000}, 431),
        ("more than 100 headers", REQUIRE, {f"X-H{n}": "v" for n in range(120)}, 431),
    ],
)
def test_what_gunicorn_refuses_at_the_edge_is_the_json_envelope(server, what, path, headers, status):
    answer = server.request("GET", path, headers=headers)
    assert answer.status == status, what
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["Code"] == 1 and body["ReqID"] and body["Msg"]


def test_a_malformed_request_line_is_the_json_envelope(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        raw = b""
        while chunk := sock.recv(4096):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"Content-Type: application/json" in head
    assert b'"Code": 1' in body


def test_every_line_on_stderr_is_json_and_the_access_log_skips_v1_and_probes(server):
    server.get("/healthz")
    server.get("/api/schema/")
    assert server.log_lines()  # each line parsed as JSON, or the test failed
    access = server.access_lines(until=lambda lines: any(line["path"] == "/api/schema/" for line in lines))
    paths = [line["path"] for line in access]
    assert "/api/schema/" in paths
    assert not [path for path in paths if path.startswith("/v1/") or path in ("/healthz", "/readyz", "/metrics")]


def test_sigterm_stops_the_server_cleanly(live_db, tmp_path):
    database, _ = live_db
    live = LiveServer(database.env, tmp_path, extra_env={"IPRESMGR_SECRET_KEY": "live-secret-key-" + "t" * 40})
    try:
        assert live.get("/readyz").status == 200
        assert live.terminate() == 0
        messages = [line.get("msg") for line in live.log_lines()]
        assert "Handling signal: term" in messages and "Shutting down: Master" in messages
    finally:
        live.stop()
