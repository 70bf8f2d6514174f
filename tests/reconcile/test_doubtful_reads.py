"""`manage.py reconcile` after a doubtful read frees nothing; its JSON output, exit codes and stored runs."""

from __future__ import annotations

import json

from core.choices import PoolState
from leases.models import ReconcileRun
from pools.models import Pool
from tests.support.api import V1, holder
from tests.support.kube import deployment, pod
from tests.support.reconcile import (
    age,
    bind,
    cluster_file,
    nothing_changed,
    reconcile,
    row_of,
    web,
)

# Doubtful reads change nothing ---------------------------------------------------------------------


def test_a_read_with_no_live_pods_for_a_cluster_with_bindings_frees_nothing(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b"])
    age()
    path = cluster_file(tmp_path, deployment("web", 2))  # a wrong context: workloads, no pods

    code, out = reconcile("--from-json", path, "--apply")

    assert code == 2
    assert "the cluster listed no live pods (1 objects read) while 2 addresses of cluster c1 are bound" in out
    assert nothing_changed(ips)
    run = ReconcileRun.objects.get()
    assert (run.status, run.exit_code) == ("error", 2)


def test_an_empty_read_is_fine_for_a_cluster_with_no_bindings(v1, tmp_path):
    bind(v1, [], replicas=2)
    age()
    code, out = reconcile("--from-json", cluster_file(tmp_path), "--apply")
    assert code == 0, out
    assert Pool.objects.get().state == PoolState.ACTIVE  # no Deployment listed: not judged


def test_a_truncated_list_frees_nothing(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b", "pod-c"])
    age()
    page = {
        "apiVersion": "v1",
        "items": web(["pod-b", "pod-c"]),
        "kind": "List",
        "metadata": {"continue": "eyJvZmZzZXQiOjUwMH0=", "remainingItemCount": 1200, "resourceVersion": ""},
    }
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page))

    code, out = reconcile("--from-json", str(path), "--apply")

    assert code == 2
    assert "is one page of a longer list (metadata.continue is set): truncated" in out
    assert nothing_changed(ips)


def test_a_file_cut_off_mid_way_frees_nothing(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b", "pod-c"])
    age()
    with open(cluster_file(tmp_path, *web(["pod-b", "pod-c"]))) as whole:
        text = whole.read()
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) // 2])

    code, out = reconcile("--from-json", str(path), "--apply")

    assert code == 2
    assert "is not complete JSON" in out and "nothing was changed" in out
    assert nothing_changed(ips)


def test_not_a_kubectl_list_is_an_error(v1, tmp_path):
    ips = bind(v1, ["pod-a"])
    age()
    path = tmp_path / "pod.json"
    path.write_text(json.dumps(pod("pod-a")))  # `kubectl get pod x -o json`: one object

    code, out = reconcile("--from-json", str(path))

    assert code == 2 and "is not a List" in out
    assert nothing_changed(ips)


def test_when_most_bindings_look_leaked_nothing_is_freed_unless_the_operator_says_so(v1, tmp_path):
    ips = bind(v1, ["pod-a", "pod-b", "pod-c"])
    age()
    path = cluster_file(tmp_path, *web(["pod-a", "someone-else"]))  # 2 of 3 bindings unknown: 67 %

    code, out = reconcile("--from-json", path, "--apply")

    assert code == 2
    assert "2 of the 3 bindings older than the grace look leaked, more than 50%: is this the right cluster?" in out
    assert "nothing changed (the run was refused)" in row_of(out, "pod-b")
    assert nothing_changed(ips)

    code, out = reconcile("--from-json", path, "--apply", "--max-leaked-percent", "70")

    assert code == 0, out
    assert holder(ips["pod-b"]) is None and holder(ips["pod-c"]) is None and holder(ips["pod-a"]) == "pod-a"


# Output and exit codes -----------------------------------------------------------------------------


def test_json_output_is_the_run_as_the_api_shows_it(v1, tmp_path, operator_token):
    ips = bind(v1, ["pod-a", "pod-b", "pod-c"])
    age()
    path = cluster_file(tmp_path, *web(["pod-b", "pod-c"]))

    code, out = reconcile("--from-json", path, "--output", "json")

    assert code == 1
    printed = json.loads(out[: out.rindex("}") + 1])
    assert printed["Status"] == "leaks_found" and printed["ExitCode"] == 1 and printed["Mode"] == "dry-run"
    assert (printed["LeakedBindings"], printed["LivePods"], printed["BindingsChecked"]) == (1, 2, 3)
    assert printed["ObjectsListed"] == {"Deployment": 1, "ReplicaSet": 1, "Pod": 2}
    (finding,) = printed["Findings"]
    assert finding["What"] == "leaked-binding" and finding["K8SPodID"] == "pod-a" and finding["IP"] == ips["pod-a"]
    assert finding["Since"].endswith("Z") and finding["Action"] == "would end the binding"
    stored = (
        V1(operator_token)
        .client.get("/v1/reconcile/runs", HTTP_AUTHORIZATION=f"Bearer {operator_token}")
        .json()["Results"][0]
    )
    assert stored == printed


def test_exit_codes(v1, tmp_path):
    bind(v1, ["pod-a", "pod-b", "pod-c"])
    age()
    clean = cluster_file(tmp_path, *web(["pod-a", "pod-b", "pod-c"]), name="clean.json")
    leaky = cluster_file(tmp_path, *web(["pod-a", "pod-b"]), name="leaky.json")

    assert reconcile("--from-json", clean)[0] == 0
    assert reconcile("--from-json", leaky)[0] == 1
    assert reconcile("--from-json", leaky, "--dry-run")[0] == 1
    assert reconcile("--from-json", leaky, "--apply")[0] == 0
    assert reconcile("--from-json", str(tmp_path / "missing.json"))[0] == 2
    code, out = reconcile("--from-json", clean, cluster="no-such-cluster")
    assert code == 2 and "cluster 'no-such-cluster' is not registered and has no pools" in out
    assert reconcile("--from-json", clean, cluster="bad cluster!")[0] == 2
    assert reconcile("--from-json", clean, "--grace-seconds", "-1")[0] == 2
    assert reconcile("--from-json", clean, "--apply", "--dry-run")[0] == 2
    assert reconcile("--from-json", clean, "--in-cluster")[0] == 2
    code, out = reconcile("--in-cluster")  # not in a pod: no service account
    assert code == 2 and "in-cluster configuration" in out
    assert not ReconcileRun.objects.filter(k8s_cluster_id="no-such-cluster").exists()


def test_stored_runs_are_pruned_to_the_newest(v1, tmp_path):
    bind(v1, ["pod-a"])
    age()
    path = cluster_file(tmp_path, *web(["pod-a"]))
    for _ in range(4):
        assert reconcile("--from-json", path, "--keep-runs", "2")[0] == 0
    assert ReconcileRun.objects.count() == 2
