"""The alert rules, the dashboard and docs/metrics.md name the series /metrics really exports: a
misspelt metric is an alert that never fires. Scraped from the real endpoint after calls."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\bipresmgr_[a-z0-9_]+")
PENDING: set[str] = set()  # names other branches add before they export them
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",), "info": ("_info",)}


def exported(client) -> set[str]:
    text = client.get("/metrics").content.decode()
    # In one process (no PROMETHEUS_MULTIPROC_DIR) prometheus-client adds <counter>_created series,
    # which the text parser reads as families of their own; gunicorn's multiprocess mode has none.
    return {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        if not family.name.endswith("_created")
        for suffix in SUFFIXES[family.type]
    }


def referenced() -> set[str]:
    rules = (REPO / "docker" / "monitoring" / "ipresmgr-rules.yaml").read_text()
    exprs = [line for line in rules.splitlines() if line.strip().startswith("expr:")]
    dashboard = json.loads((REPO / "docker" / "monitoring" / "ipresmgr-dashboard.json").read_text())
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    return {name for expr in exprs for name in NAME.findall(expr)}


def documented() -> set[str]:
    text = (REPO / "docs" / "metrics.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `ipresmgr_")]
    return {re.match(r"\| `(ipresmgr_\w+)`", row)[1] for row in rows}


def test_every_series_the_rules_and_dashboard_read_is_exported(v1, client):
    assert v1.create_pool(1).json()["Code"] == 0
    assert v1.require("pod-1").json()["Code"] == 0  # a full pool: it has series
    names = exported(client)
    assert {"ipresmgr_pool_idle", "ipresmgr_v1_call_duration_seconds_bucket", "ipresmgr_database_up"} <= names
    missing = referenced() - names - PENDING
    assert missing == set(), f"the rules or the dashboard read series /metrics does not export: {missing}"


def test_docs_metrics_table_lists_every_exported_metric(v1, client):
    assert v1.create_pool(1).json()["Code"] == 0
    assert v1.require("pod-1").json()["Code"] == 0
    families = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in exported(client)}
    families |= {name.removesuffix("_total") for name in PENDING}
    table = {name.removesuffix("_total") for name in documented()}
    assert families == table
