"""/healthz, /readyz and /metrics in the process (Django's test client, the real database). The
same endpoints on a live gunicorn with two workers, an unmigrated and an unreachable database are in
test_live_*.py."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from audit.models import AuditEvent
from ipresmgr_site import __version__
from tests.support.api import CLUSTER, GATEWAY, REGION, SUBNET, make_subnet
from tests.support.ops import samples


def calls_total(figures: dict, endpoint: str, code: int) -> float:
    return figures.get(("ipresmgr_v1_calls_total", (("code", str(code)), ("endpoint", endpoint))), 0.0)


def test_healthz_answers_without_a_database_query(client):
    # No `db` fixture: pytest-django refuses any database access here.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}
    assert response["Cache-Control"] == "no-store"


def test_readyz_is_ready_on_a_migrated_database(db, client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_readyz_once_ready_is_one_query(db, client, django_assert_num_queries):
    assert client.get("/readyz").status_code == 200  # may look at the migrations once
    with django_assert_num_queries(1):
        assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/metrics/instance", "/metrics/database"])
def test_ops_endpoints_refuse_other_methods(db, client, path):
    response = client.post(path, {})
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/metrics/instance", "/metrics/database"])
def test_probes_work_with_the_pod_ip_as_host_and_plain_http_behind_the_https_redirect(db, settings, path):
    # Kubelet probes send Host: <pod IP>:<port> over plain HTTP; production settings allow one host
    # name and redirect browsers to HTTPS.
    settings.ALLOWED_HOSTS = ["ipresmgr.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    response = Client().get(path, HTTP_HOST="10.244.1.7:8000")
    assert response.status_code == 200


def test_v1_is_not_redirected_to_https(v1, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = v1.require("pod-1")
    assert response.status_code != 301
    assert response.json()["Code"] == 20  # no pool: answered, not redirected


def test_the_console_is_redirected_to_https(db, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = Client().get("/admin/login/")
    assert response.status_code == 301 and response["Location"].startswith("https://")


def test_ops_endpoints_are_neither_audited_nor_counted_as_v1_calls(v1, client):
    before = samples(client.get("/metrics"))
    events = AuditEvent.objects.count()
    for path in ("/healthz", "/readyz", "/metrics"):
        client.get(path)
    after = samples(client.get("/metrics"))
    assert AuditEvent.objects.count() == events
    counted = {key: value for key, value in after.items() if key[0] == "ipresmgr_v1_calls_total"}
    assert counted == {key: value for key, value in before.items() if key[0] == "ipresmgr_v1_calls_total"}


def test_metrics_count_calls_by_endpoint_and_code_and_read_the_gauges(v1, client, settings):
    settings.IPRESMGR_METRICS_POOLS = "all"  # the pool below has idle addresses
    before = samples(client.get("/metrics"))
    assert v1.create_pool(3).json()["Code"] == 0
    assert v1.require("pod-1").json()["Code"] == 0
    assert v1.require("pod-1", name="no-such-pool").json()["Code"] == 20
    figures = samples(client.get("/metrics"))

    assert calls_total(figures, "/v1/ippool/create", 0) == calls_total(before, "/v1/ippool/create", 0) + 1
    assert calls_total(figures, "/v1/ip/require", 0) == calls_total(before, "/v1/ip/require", 0) + 1
    assert calls_total(figures, "/v1/ip/require", 20) == calls_total(before, "/v1/ip/require", 20) + 1
    duration_count = ("ipresmgr_v1_call_duration_seconds_count", (("endpoint", "/v1/ip/require"),))
    assert figures[duration_count] == before.get(duration_count, 0) + 2

    subnet = (("net_regional_id", REGION), ("subnet_id", SUBNET))
    assert figures[("ipresmgr_subnet_capacity", subnet)] == 253  # a /24 less network, broadcast, gateway
    assert figures[("ipresmgr_subnet_reserved", subnet)] == 3
    assert figures[("ipresmgr_subnet_bound", subnet)] == 1
    pool = (("cluster", CLUSTER), ("kind", "0"), ("namespace", "default"), ("subnet_id", SUBNET), ("workload", "web"))
    assert figures[("ipresmgr_pool_target", pool)] == 3
    assert figures[("ipresmgr_pool_reserved", pool)] == 3
    assert figures[("ipresmgr_pool_bound", pool)] == 1
    assert figures[("ipresmgr_pool_idle", pool)] == 2
    assert figures[("ipresmgr_database_up", ())] == 1
    assert figures[("ipresmgr_build_info", (("version", __version__),))] == 1
    assert figures[("ipresmgr_v1_unavailable_total", (("endpoint", "/v1/ip/require"),))] >= 0  # present from the start


@pytest.mark.parametrize("pools", ["full", "all"])
def test_metrics_gauges_cost_the_same_queries_for_one_pool_or_many(
    v1, client, settings, pools, django_assert_max_num_queries
):
    settings.IPRESMGR_METRICS_POOLS = pools
    v1.create_pool(1)
    # subnets, their exclusions, their reserved, idle and quarantined addresses, the exported pools,
    # the pool counts; the reconcile runs' gauges (clusters, last runs)
    with django_assert_max_num_queries(7 + 2):
        samples(client.get("/metrics"))
    make_subnet("subnet-b", "10.0.4.0/24", "10.0.4.1")
    for n in range(30):
        subnet, gateway = ("subnet-b", "10.0.4.1") if n % 2 else (SUBNET, GATEWAY)
        assert v1.create_pool(2, name=f"w{n}", subnet_id=subnet, gateway=gateway).json()["Code"] == 0
    with django_assert_max_num_queries(7 + 2):
        figures = samples(client.get("/metrics"))
    assert sum(1 for key in figures if key[0] == "ipresmgr_pool_target") == (31 if pools == "all" else 0)
    assert figures[("ipresmgr_pools_active", ())] == 31


def test_metrics_behind_a_token(db, client, settings):
    settings.IPRESMGR_METRICS_TOKEN = "metrics-secret-1"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-secret-1")
    assert response.status_code == 200 and b"ipresmgr_database_up 1.0" in response.content
    # The probes stay open.
    assert client.get("/healthz").status_code == 200


# /metrics/instance and /metrics/database, the bounded per-pool series ---------------------------


def names(figures: dict) -> set[str]:
    return {name for name, _ in figures}


def pool_series(figures: dict) -> dict[str, dict[str, float]]:
    """workload -> {gauge: value} of the ipresmgr_pool_* series."""
    found: dict[str, dict[str, float]] = {}
    for (name, labels), value in figures.items():
        if name.startswith("ipresmgr_pool_"):
            found.setdefault(dict(labels)["workload"], {})[name.removeprefix("ipresmgr_pool_")] = value
    return found


def test_metrics_instance_has_this_instances_calls_and_reads_no_database(v1, client, django_assert_num_queries):
    assert v1.create_pool(2).json()["Code"] == 0
    assert v1.require("pod-1").json()["Code"] == 0
    with django_assert_num_queries(0):
        figures = samples(client.get("/metrics/instance"))
    assert calls_total(figures, "/v1/ip/require", 0) >= 1
    assert {"ipresmgr_v1_calls_total", "ipresmgr_v1_call_duration_seconds_bucket", "ipresmgr_build_info"} <= names(
        figures
    )
    assert not {name for name in names(figures) if re.match(r"ipresmgr_(subnet|pool|pools|reconcile|database)_", name)}


def test_metrics_database_has_the_database_figures_and_no_calls(v1, client):
    assert v1.create_pool(2).json()["Code"] == 0
    assert v1.require("pod-1").json()["Code"] == 0
    figures = samples(client.get("/metrics/database"))
    assert figures[("ipresmgr_database_up", ())] == 1
    assert figures[("ipresmgr_subnet_reserved", (("net_regional_id", REGION), ("subnet_id", SUBNET)))] == 2
    assert figures[("ipresmgr_pools_active", ())] == 1
    assert not {name for name in names(figures) if name.startswith(("ipresmgr_v1_", "ipresmgr_build_"))}
    # /metrics is both halves (one instance, the demo).
    both = names(samples(client.get("/metrics")))
    assert names(figures) | names(samples(client.get("/metrics/instance"))) <= both


def test_by_default_only_pools_with_no_idle_address_have_series(v1, client):
    for n in range(10):
        assert v1.create_pool(2, name=f"w{n}").json()["Code"] == 0
    assert v1.require("pod-1", name="w3").json()["Code"] == 0
    assert v1.require("pod-2", name="w3").json()["Code"] == 0  # w3 full: both addresses bound
    assert v1.require("pod-1", name="w7").json()["Code"] == 0  # w7 has one idle address left
    figures = samples(client.get("/metrics/database"))
    assert pool_series(figures) == {"w3": {"target": 2, "reserved": 2, "bound": 2, "idle": 0}}
    assert figures[("ipresmgr_pools_active", ())] == 10
    assert figures[("ipresmgr_pools_full", ())] == 1

    # A third pod takes a surge address: still full, now 3 reserved.
    assert v1.require("pod-3", name="w3").json()["Code"] == 0
    assert pool_series(samples(client.get("/metrics/database")))["w3"] == {
        "target": 2,
        "reserved": 3,
        "bound": 3,
        "idle": 0,
    }
    # The surge pod gone, its address goes back (still full); one more gone, w3 has an idle address
    # and its series go.
    assert v1.release("pod-3", name="w3").json()["Code"] == 0
    assert pool_series(samples(client.get("/metrics/database")))["w3"] == {
        "target": 2,
        "reserved": 2,
        "bound": 2,
        "idle": 0,
    }
    assert v1.release("pod-2", name="w3").json()["Code"] == 0
    figures = samples(client.get("/metrics/database"))
    assert pool_series(figures) == {} and figures[("ipresmgr_pools_full", ())] == 0


def test_per_pool_series_are_capped_fullest_first_or_off(v1, client, settings):
    for n in range(5):
        assert v1.create_pool(3, name=f"w{n}").json()["Code"] == 0
    for pod in range(3):
        assert v1.require(f"pod-{pod}", name="w4").json()["Code"] == 0  # w4: no idle address
    assert v1.require("pod-0", name="w2").json()["Code"] == 0  # w2: 2 idle, the others 3
    settings.IPRESMGR_METRICS_POOLS = "all"
    assert set(pool_series(samples(client.get("/metrics/database")))) == {f"w{n}" for n in range(5)}
    settings.IPRESMGR_METRICS_POOL_SERIES_MAX = 2
    assert set(pool_series(samples(client.get("/metrics/database")))) == {"w4", "w2"}
    settings.IPRESMGR_METRICS_POOLS = "none"
    figures = samples(client.get("/metrics/database"))
    assert pool_series(figures) == {}
    assert figures[("ipresmgr_pools_active", ())] == 5 and figures[("ipresmgr_pools_full", ())] == 1


@pytest.mark.parametrize("path", ["/metrics/instance", "/metrics/database"])
def test_both_halves_ask_for_the_token(db, client, settings, path):
    settings.IPRESMGR_METRICS_TOKEN = "metrics-secret-1"
    assert client.get(path).status_code == 401
    assert client.get(path, HTTP_AUTHORIZATION="Bearer metrics-secret-1").status_code == 200
