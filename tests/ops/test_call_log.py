"""The call line's fields, in the process (the live server's lines are in test_live_server.py):
from the view's `ipresmgr_log_fields` when it sets them, else from the body, the query string and
the answer."""

from __future__ import annotations

import logging

import pytest

from ipresmgr_site.logs import CALL_LOGGER


@pytest.fixture
def call_lines(caplog):
    caplog.set_level(logging.INFO, logger=CALL_LOGGER)

    def lines() -> list[dict]:
        return [record.ipresmgr for record in caplog.records if record.name == CALL_LOGGER]

    return lines


def test_a_require_line_from_the_body_and_the_answer(v1, call_lines):
    v1.create_pool(2)
    answer = v1.require("pod-7", req_id="req-7").json()
    [line] = [line for line in call_lines() if line["ReqID"] == "req-7"]
    assert {k: line[k] for k in ("endpoint", "cluster", "namespace", "kind", "workload", "pod", "ip", "Code")} == {
        "endpoint": "/v1/ip/require",
        "cluster": "c1",
        "namespace": "default",
        "kind": 0,
        "workload": "web",
        "pod": "pod-7",
        "ip": answer["IP"],
        "Code": 0,
    }
    assert line["status"] == 200 and line["msg"] == answer["Msg"]


def test_a_read_call_line_from_the_query_string(v1, call_lines):
    v1.client.get("/v1/pools?K8SClusterID=c1&ReqID=read-1", HTTP_AUTHORIZATION=f"Bearer {v1.token}")
    [line] = [line for line in call_lines() if line["ReqID"] == "read-1"]
    assert (line["endpoint"], line["cluster"], line["Code"], line["status"]) == ("/v1/pools", "c1", 0, 200)


@pytest.mark.urls("tests.support.log_fields_urls")
def test_the_views_own_fields_win(db, client, call_lines):
    client.post("/v1/test/fields", {"ReqID": "from-body", "K8SClusterID": "c-body"}, content_type="application/json")
    [line] = call_lines()
    assert {k: line[k] for k in ("ReqID", "Code", "cluster", "namespace", "kind", "workload", "pod", "ip")} == {
        "ReqID": "given-1",
        "Code": 0,
        "cluster": "c-given",
        "namespace": "ns-given",
        "kind": 1,
        "workload": "sts-given",
        "pod": "pod-given",
        "ip": "10.9.9.9",
    }
    assert line["endpoint"] == "/v1/test/fields"


def test_at_warning_level_only_code_50_and_99_calls_write_a_line(v1, caplog):
    caplog.set_level(logging.WARNING, logger=CALL_LOGGER)  # IPRESMGR_CALL_LOG_LEVEL=WARNING
    assert v1.require("pod-1").json()["Code"] == 20
    assert [r for r in caplog.records if r.name == CALL_LOGGER] == []
