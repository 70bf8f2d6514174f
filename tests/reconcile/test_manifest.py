"""docker/kubernetes/reconcile: the CronJob runs a dry run unless the operator opts in, its arguments
are ones the command takes, and its ClusterRole grants `list` on exactly the kinds the command reads."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from leases.models import ReconcileRun
from leases.reconcile.cluster import LIST_CALLS
from tests.support.reconcile import reconcile

FOLDER = Path(__file__).resolve().parents[2] / "docker" / "kubernetes" / "reconcile"
# The API group and resource of each kind the command lists.
RESOURCES = {
    "Pod": ("", "pods"),
    "Deployment": ("apps", "deployments"),
    "ReplicaSet": ("apps", "replicasets"),
    "StatefulSet": ("apps", "statefulsets"),
    "Job": ("batch", "jobs"),
    "CronJob": ("batch", "cronjobs"),
}


def manifests() -> dict[str, dict]:
    found = {}
    for path in sorted(FOLDER.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            document = yaml.safe_load(path.read_text())
            found[document["kind"]] = document
    return found


def kustomization() -> dict:
    return yaml.safe_load((FOLDER / "kustomization.yaml").read_text())


def config_literals() -> dict[str, str]:
    (generator,) = kustomization()["configMapGenerator"]
    return dict(literal.split("=", 1) for literal in generator["literals"])


def container() -> dict:
    return manifests()["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]


def test_the_cluster_role_lists_exactly_what_the_command_reads():
    role = manifests()["ClusterRole"]
    granted = {
        (group, resource, tuple(rule["verbs"]))
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert granted == {(*RESOURCES[kind], ("list",)) for kind, _, _ in LIST_CALLS}


def test_the_cronjob_runs_as_the_bound_service_account_with_its_token():
    objects = manifests()
    pod_spec = objects["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    account = objects["ServiceAccount"]["metadata"]["name"]
    binding = objects["ClusterRoleBinding"]
    assert pod_spec["serviceAccountName"] == account and pod_spec["automountServiceAccountToken"] is True
    assert binding["roleRef"]["name"] == objects["ClusterRole"]["metadata"]["name"]
    assert [(s["kind"], s["name"]) for s in binding["subjects"]] == [("ServiceAccount", account)]
    files = sorted(path.name for path in FOLDER.glob("*.yaml") if path.stem != "kustomization")
    assert sorted(kustomization()["resources"]) == files


def test_the_cronjob_is_a_dry_run_unless_the_operator_opts_in():
    args = container()["args"]
    assert "--apply" not in args and "$(IPRESMGR_RECONCILE_MODE)" in args
    assert config_literals()["IPRESMGR_RECONCILE_MODE"] == "--dry-run"


def test_the_cronjobs_arguments_are_the_commands(v1):
    """Kubernetes expands $(VAR) from the container's env; the result must parse, so that the Job
    fails for a reason (here: not in a pod) and not for a bad argument."""
    literals = {**config_literals(), "IPRESMGR_RECONCILE_CLUSTER_ID": "c1"}
    env = {entry["name"] for entry in container()["env"]}
    assert set(config_literals()) <= env
    args = [re.sub(r"\$\((\w+)\)", lambda m: literals[m.group(1)], arg) for arg in container()["args"]]
    assert args[0] == "reconcile"

    code, out = reconcile(*args[1:], cluster="c1")

    assert code == 2 and "in-cluster configuration" in out
    assert ReconcileRun.objects.get().status == "error"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (its kustomize) not installed")
def test_kustomize_builds_the_folder():
    built = subprocess.run(["kubectl", "kustomize", str(FOLDER)], capture_output=True, text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    kinds = [doc["kind"] for doc in yaml.safe_load_all(built.stdout) if doc]
    assert sorted(kinds) == ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "CronJob", "ServiceAccount"]
