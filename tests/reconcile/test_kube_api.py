"""`manage.py reconcile --kubeconfig`: the official `kubernetes` client, for real, against a small
API server on 127.0.0.1 (tests/support/kube.py) that serves the objects at the API's paths, page by page,
and fails a page when asked. No list that fails or stops short may lead to a change."""

from __future__ import annotations

import socket

import pytest

from leases.models import ReconcileRun
from tests.support.api import holder
from tests.support.kube import PORTS, FakeKubeAPI, cronjob, job, pod, statefulset
from tests.support.reconcile import age, bind, consistent, reconcile, row_of, web


@pytest.fixture
def cluster_objects(v1):
    """c1 holds web's pods a-e and batch's job-1; the cluster runs web's b, c, d, e and no batch."""
    ips = bind(v1, ["pod-a", "pod-b", "pod-c", "pod-d", "pod-e"])
    ips.update(bind(v1, ["job-1"], name="batch", kind=2))
    age()
    objects = [*web(["pod-b", "pod-c", "pod-d", "pod-e"], replicas=5), statefulset("db", 1), cronjob("nightly")]
    other = job("other")
    objects += [other, pod("job-9", owner=other)]  # an unrelated Job and its pod
    return ips, objects


@pytest.fixture
def api_server():
    servers = []

    def start(objects, **options) -> FakeKubeAPI:
        server = FakeKubeAPI(objects, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_reads_every_kind_page_by_page_and_frees_the_leaks(cluster_objects, api_server, tmp_path):
    ips, objects = cluster_objects
    api = api_server(objects)
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")

    code, out = reconcile("--kubeconfig", str(kubeconfig), "--page-size", "2", "--apply")

    assert code == 0, out
    # Five pods in pages of two: three requests, the second and third with the continue token
    # the previous page gave.
    pages = api.pages_served("Pod")
    assert [page["limit"] for page in pages] == ["2", "2", "2"]
    assert "continue" not in pages[0] and all("continue" in page for page in pages[1:])
    for kind in ("Deployment", "ReplicaSet", "StatefulSet", "Job", "CronJob"):
        assert api.pages_served(kind), kind
    assert f"read from kubeconfig {kubeconfig}: " in out and "Pod: 5" in out
    assert holder(ips["pod-a"]) is None and holder(ips["job-1"]) is None
    assert {holder(ips[p]) for p in ("pod-b", "pod-c", "pod-d", "pod-e")} == {"pod-b", "pod-c", "pod-d", "pod-e"}
    assert "Job default/batch not found in the cluster" in row_of(out, "orphaned-pool", "/batch ")
    run = ReconcileRun.objects.get()
    assert (run.status, run.bindings_freed, run.pools_released, run.report["live_pods"]) == ("applied", 2, 1, 5)
    assert consistent()


def test_kubeconfig_from_the_environment_and_a_chosen_context(cluster_objects, api_server, tmp_path, monkeypatch):
    ips, objects = cluster_objects
    api = api_server(objects)
    # The current context is a server that is not there; --context picks the real one.
    nowhere = f"http://127.0.0.1:{_free_port()}"
    contexts = {"prod": api.url, "old": nowhere}
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig", extra_contexts=contexts, current="old")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))

    code, out = reconcile()
    assert code == 2 and "listing Deployments failed" in out

    code, out = reconcile("--context", "prod")

    assert code == 1, out
    assert "read from kubeconfig $KUBECONFIG or ~/.kube/config (context prod)" in out
    assert "pod-a" in row_of(out, "leaked-binding", ips["pod-a"])


def test_a_failing_page_frees_nothing(cluster_objects, api_server, tmp_path):
    ips, objects = cluster_objects
    api = api_server(objects, fail={("Pod", 1): 500})  # the second page of pods
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")

    code, out = reconcile("--kubeconfig", str(kubeconfig), "--page-size", "2", "--apply")

    assert code == 2
    assert "reading the cluster failed, so nothing was changed: listing Pods failed: HTTP 500" in out
    assert {holder(ip) for ip in ips.values()} == set(ips)
    run = ReconcileRun.objects.get()
    assert (run.status, run.exit_code, run.bindings_freed, run.pools_released) == ("error", 2, 0, 0)


def test_an_expired_continue_token_frees_nothing(cluster_objects, api_server, tmp_path):
    ips, objects = cluster_objects
    api = api_server(objects, fail={("Pod", 3): 410})
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")

    code, out = reconcile("--kubeconfig", str(kubeconfig), "--page-size", "1", "--apply")

    assert code == 2
    assert "listing Pods failed: HTTP 410" in out and "the continue token expired: run again" in out
    assert {holder(ip) for ip in ips.values()} == set(ips)


def test_a_list_that_stops_short_frees_nothing(cluster_objects, api_server, tmp_path):
    ips, objects = cluster_objects
    api = api_server(objects, truncate={"Pod"})  # more remain, but no continue token to get them
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")

    code, out = reconcile("--kubeconfig", str(kubeconfig), "--page-size", "2", "--apply")

    assert code == 2 and "the last page says more remain, with no continue token" in out
    assert {holder(ip) for ip in ips.values()} == set(ips)


def test_a_refused_token_frees_nothing(cluster_objects, api_server, tmp_path):
    ips, objects = cluster_objects
    api = api_server(objects)
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig", token="wrong-token")

    code, out = reconcile("--kubeconfig", str(kubeconfig), "--apply")

    assert code == 2 and "listing Deployments failed: HTTP 401" in out
    assert {holder(ip) for ip in ips.values()} == set(ips)


def test_an_unreachable_api_server_frees_nothing(cluster_objects, api_server, tmp_path):
    ips, objects = cluster_objects
    api = api_server(objects)
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
    port = _free_port()
    kubeconfig.write_text(kubeconfig.read_text().replace(api.url, f"http://127.0.0.1:{port}"))

    code, out = reconcile("--kubeconfig", str(kubeconfig), "--apply")

    assert code == 2 and "listing Deployments failed" in out
    assert {holder(ip) for ip in ips.values()} == set(ips)


def test_a_missing_or_broken_kubeconfig_is_an_error(v1, tmp_path):
    bind(v1, ["pod-a"])
    code, out = reconcile("--kubeconfig", str(tmp_path / "none"))
    assert code == 2 and "kubeconfig" in out
    (tmp_path / "broken").write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    code, out = reconcile("--kubeconfig", str(tmp_path / "broken"))
    assert code == 2 and "kubeconfig" in out
    assert ReconcileRun.objects.filter(status="error").count() == 2


def _free_port() -> int:
    """A port of ours that nothing listens on."""
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8900-8999")
