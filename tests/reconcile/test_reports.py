"""Operators see the reconcile runs: GET /v1/reconcile/runs (operator token, the /v1 envelope), the
console's page of runs, and the Prometheus gauges read from the stored runs."""

from __future__ import annotations

import re

from django.urls import reverse
from prometheus_client import CollectorRegistry, generate_latest
from rest_framework.test import APIClient

from leases.models import ReconcileRun
from leases.reconcile.metrics import ReconcileCollector, reconcile_figures
from leases.reconcile.run import STORED_FINDINGS
from tests.support.api import V1
from tests.support.reconcile import age, bind, cluster_file, reconcile, web

RUNS = "/v1/reconcile/runs"


def get(token: str | None, **query):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return APIClient().get(RUNS, query, **headers)


def three_runs(v1, tmp_path) -> None:
    """A dry run that finds pod-a's leak, the --apply that frees it, and a failed read."""
    bind(v1, ["pod-a", "pod-b", "pod-c"])
    age()
    path = cluster_file(tmp_path, *web(["pod-b", "pod-c"]))
    assert reconcile("--from-json", path)[0] == 1
    assert reconcile("--from-json", path, "--apply")[0] == 0
    assert reconcile("--from-json", str(tmp_path / "missing.json"))[0] == 2


def test_operators_read_the_runs_newest_first_in_the_envelope(v1, tmp_path, operator_token):
    three_runs(v1, tmp_path)

    answer = get(operator_token, ReqID="q1")

    assert answer.status_code == 200
    body = answer.json()
    assert (body["ReqID"], body["Code"], body["Msg"], body["Count"]) == ("q1", 0, "3 of 3", 3)
    failed, applied, dry = body["Results"]
    assert (failed["Status"], failed["ExitCode"], failed["Mode"]) == ("error", 2, "dry-run")
    assert "reading the cluster failed, so nothing was changed" in failed["Message"]
    assert (applied["Status"], applied["Mode"], applied["LeakedBindings"], applied["BindingsFreed"]) == (
        "applied",
        "apply",
        1,
        1,
    )
    assert applied["Findings"][0]["Action"] == "binding ended; address idle"
    assert (dry["Status"], dry["ExitCode"], dry["Findings"][0]["K8SPodID"]) == ("leaks_found", 1, "pod-a")
    assert dry["StartedAt"] <= applied["StartedAt"] <= failed["StartedAt"]


def test_runs_filter_by_cluster_status_and_mode(v1, tmp_path, operator_token, other_cluster_token):
    three_runs(v1, tmp_path)
    bind(V1(other_cluster_token), ["their-1"], cluster="c2")
    age()
    assert reconcile("--from-json", cluster_file(tmp_path, *web(["their-1"]), name="c2.json"), cluster="c2")[0] == 0

    def statuses(**query):
        return [row["Status"] for row in get(operator_token, **query).json()["Results"]]

    assert statuses(K8SClusterID="c2") == ["clean"]
    assert statuses(K8SClusterID="c1", Status="leaks_found") == ["leaks_found"]
    assert statuses(Mode="apply") == ["applied"]
    assert statuses(K8SClusterID="c1", Ordering="StartedAt") == ["leaks_found", "applied", "error"]
    refused = get(operator_token, Status="done")
    assert refused.status_code == 400 and refused.json()["Code"] == 1 and refused.json()["Msg"].startswith("Status:")


def test_only_an_operator_token_reads_the_runs(v1, tmp_path, cluster_token):
    three_runs(v1, tmp_path)
    forbidden = get(cluster_token)  # even its own cluster's: the report names pods of every workload
    assert forbidden.status_code == 403
    assert forbidden.json()["Code"] == 3 and forbidden.json()["Msg"] == "only an operator token may read reconcile runs"
    assert "Results" not in forbidden.json()
    anonymous = get(None)
    assert anonymous.status_code == 401 and anonymous.json()["Code"] == 2
    wrong_method = APIClient().post(RUNS, {}, format="json", HTTP_AUTHORIZATION=f"Bearer {cluster_token}")
    assert wrong_method.status_code == 405 and wrong_method.json()["Code"] == 1


def test_a_run_keeps_its_first_findings_and_exact_counts(v1, tmp_path, operator_token):
    pods = [f"pod-{n}" for n in range(STORED_FINDINGS + 2)]
    bind(v1, pods)
    age()
    path = cluster_file(tmp_path, *web(pods[:1], replicas=len(pods)))

    code, out = reconcile("--from-json", path, "--max-leaked-percent", "100", "--output", "json")

    assert code == 1
    assert out.count('"What": "leaked-binding"') == STORED_FINDINGS + 1  # the command prints them all
    row = get(operator_token).json()["Results"][0]
    assert (row["LeakedBindings"], row["FindingsTotal"], len(row["Findings"])) == (
        STORED_FINDINGS + 1,
        STORED_FINDINGS + 1,
        STORED_FINDINGS,
    )


def test_the_console_lists_runs_and_shows_a_runs_findings(v1, tmp_path, admin_client):
    three_runs(v1, tmp_path)
    applied = ReconcileRun.objects.get(status="applied")

    page = admin_client.get(reverse("admin:leases_reconcilerun_changelist")).content.decode()
    for text in ("changes applied", "findings to act on", "error", "c1"):
        assert text in page
    detail = admin_client.get(reverse("admin:leases_reconcilerun_change", args=[applied.pk])).content.decode()
    assert 'id="reconcile-findings"' in detail
    for text in ("leaked-binding", "pod-a", "binding ended; address idle", f"?q=reconcile-{applied.pk}"):
        assert text in detail
    assert "Save" not in detail  # read only
    assert admin_client.get(reverse("admin:leases_reconcilerun_add")).status_code == 403
    events = admin_client.get(reverse("admin:audit_auditevent_changelist") + f"?q=reconcile-{applied.pk}")
    assert "pod-a" in events.content.decode()


def test_gauges_per_cluster_from_the_stored_runs(v1, tmp_path, other_cluster_token):
    three_runs(v1, tmp_path)  # c1: its last successful run freed pod-a; its latest run failed
    bind(V1(other_cluster_token), ["their-1", "their-2", "their-3"], cluster="c2")
    age()
    path = cluster_file(tmp_path, *web(["their-1", "their-2"]), name="c2.json")
    assert reconcile("--from-json", path, cluster="c2")[0] == 1  # c2: a dry run found one

    registry = CollectorRegistry()
    registry.register(ReconcileCollector())
    text = generate_latest(registry).decode()

    for line in (
        'ipresmgr_reconcile_leaked_bindings{cluster="c1"} 1.0',
        'ipresmgr_reconcile_bindings_freed{cluster="c1"} 1.0',
        'ipresmgr_reconcile_last_run_failed{cluster="c1"} 1.0',
        'ipresmgr_reconcile_leaked_bindings{cluster="c2"} 1.0',
        'ipresmgr_reconcile_bindings_freed{cluster="c2"} 0.0',
        'ipresmgr_reconcile_last_run_failed{cluster="c2"} 0.0',
    ):
        assert line in text, text
    applied = ReconcileRun.objects.get(status="applied")
    c1 = next(f for f in reconcile_figures() if f.cluster_id == "c1")
    assert c1.last_success == applied.finished_at.timestamp()
    (shown,) = re.findall(r'^ipresmgr_reconcile_last_success_timestamp_seconds\{cluster="c1"\} (\S+)$', text, re.M)
    assert float(shown) == c1.last_success


def test_gauges_of_a_cluster_whose_runs_all_failed(v1, tmp_path, django_assert_max_num_queries):
    bind(v1, ["pod-a"])
    assert reconcile("--from-json", str(tmp_path / "missing.json"))[0] == 2
    with django_assert_max_num_queries(3):
        (figures,) = reconcile_figures()
    assert figures.last_run_failed and figures.leaked_bindings is None and figures.last_success is None
