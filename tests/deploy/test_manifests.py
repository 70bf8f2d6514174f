"""The Kubernetes manifests (docker/kubernetes/), compose.yaml and the Dockerfile: rendered with
kustomize (kubectl's), every object valid against the Kubernetes 1.30 schemas (strict), the CRD
objects with their required fields, and everything agreeing with the code: image and version,
ports, probe paths, environment variable names, commands, and `check --deploy` silent with the
settings the manifests give."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest
import yaml

from ipresmgr_site.health import OPS_ENDPOINTS
from tests.support.manifests import (
    COMPONENTS,
    CRD_KINDS,
    IMAGE_NAME,
    K8S_VERSION,
    KUBERNETES,
    POD_KINDS,
    buildable_kustomizations,
    config_values,
    container_env,
    containers,
    dockerfile_user,
    expand,
    jobs_and_cronjobs,
    objects,
    one,
    overlays,
    parse_command_line,
    pod_labels,
    pod_spec,
    rendered,
    rendered_folder,
    selects,
    server_container,
    service_containers,
)

# Schemas ----------------------------------------------------------------------------------------


@overlays
def test_every_object_is_valid_against_the_kubernetes_130_schemas(overlay):
    kinds = set()
    for obj in rendered(overlay):
        kinds.add((obj["apiVersion"], obj["kind"]))
        if (obj["apiVersion"], obj["kind"]) in CRD_KINDS:
            continue
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)  # raises on any error
    assert {"Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "Job", "CronJob", "ServiceAccount"} <= {
        kind for _, kind in kinds
    }
    assert ("networking.k8s.io/v1", "NetworkPolicy") in kinds


def test_the_validator_is_strict():
    deployment = one("base", "Deployment", "ipresmgr")
    pod_spec(deployment)["containers"][0]["readinessProbes"] = {}  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_the_cloudnativepg_cluster_has_its_required_fields_and_makes_the_secret_the_pods_read():
    cluster = one("production", "Cluster", "ipresmgr-db")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    spec = cluster["spec"]
    assert isinstance(spec["instances"], int) and spec["instances"] >= 2  # failover needs a standby
    assert re.fullmatch(r"\d+(Gi|Mi|Ti)", spec["storage"]["size"])
    assert spec["imageName"].endswith(":15")  # the major version CI tests
    initdb = spec["bootstrap"]["initdb"]
    assert initdb["database"] and initdb["owner"]
    # CloudNativePG writes <cluster>-app with key `uri`; every pod reads DATABASE_URL from it.
    for _, container in service_containers("production"):
        [database_url] = [e for e in container["env"] if e["name"] == "DATABASE_URL"]
        assert database_url["valueFrom"]["secretKeyRef"] == {"name": f"{cluster['metadata']['name']}-app", "key": "uri"}


def test_the_servicemonitor_has_its_required_fields_and_scrapes_the_service_with_the_token():
    monitor = one("production", "ServiceMonitor", "ipresmgr")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    spec = monitor["spec"]
    assert spec["selector"]["matchLabels"] and spec["endpoints"]
    service = one("production", "Service", "ipresmgr")
    assert selects(spec["selector"]["matchLabels"], service["metadata"]["labels"])
    port_names = {port["name"] for port in service["spec"]["ports"]}
    for endpoint in spec["endpoints"]:
        assert endpoint["port"] in port_names
        assert endpoint["path"] in OPS_ENDPOINTS
        credentials = endpoint["authorization"]["credentials"]
        assert endpoint["authorization"]["type"] == "Bearer"
        assert credentials == {"name": "ipresmgr-secrets", "key": "IPRESMGR_METRICS_TOKEN"}
    # The pods are not also scraped by annotation (which cannot send the token).
    deployment = one("production", "Deployment", "ipresmgr")
    assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"] == "false"


# What is in the base -----------------------------------------------------------------------------


def test_the_base_has_every_object_the_service_needs():
    names = {(o["kind"], o["metadata"]["name"]) for o in rendered("base")}
    assert {
        ("Deployment", "ipresmgr"),
        ("Service", "ipresmgr"),
        ("PodDisruptionBudget", "ipresmgr"),
        ("ServiceAccount", "ipresmgr"),
        ("NetworkPolicy", "ipresmgr"),
        ("Secret", "ipresmgr-secrets"),
        ("Job", "ipresmgr-migrate"),
        ("CronJob", "ipresmgr-purge-released-pools"),
        ("CronJob", "ipresmgr-check-consistency"),
        ("CronJob", "ipresmgr-prune-audit"),
    } <= names
    assert [kind for kind, name in names if name.startswith("ipresmgr-config")] == ["ConfigMap"]
    # The service's own account has no API rights (others, e.g. a reconcile CronJob, bring their own).
    for binding in objects("base", "RoleBinding") + objects("base", "ClusterRoleBinding"):
        assert {"kind": "ServiceAccount", "name": "ipresmgr"} not in [
            {"kind": s["kind"], "name": s["name"]} for s in binding.get("subjects", [])
        ]


def test_the_production_overlay_ships_no_secret_values():
    assert objects("production", "Secret") == []
    base_secret = one("base", "Secret", "ipresmgr-secrets")
    for value in base_secret["stringData"].values():
        assert "example" in value  # example values, never real ones


@overlays
def test_every_object_has_a_component_label_for_the_apply_order(overlay):
    for obj in rendered(overlay):
        assert obj["metadata"]["labels"].get("app.kubernetes.io/component") in COMPONENTS, obj["metadata"]["name"]


@overlays
def test_the_service_pdb_and_network_policy_select_the_server_pods_and_only_them(overlay):
    deployment = one(overlay, "Deployment", "ipresmgr")
    server_labels = pod_labels(deployment)
    assert selects(deployment["spec"]["selector"]["matchLabels"], server_labels)
    other_pods = [pod_labels(o) for o in objects(overlay) if o["kind"] in ("Job", "CronJob")]
    service = one(overlay, "Service", "ipresmgr")
    for selector in (
        service["spec"]["selector"],
        one(overlay, "PodDisruptionBudget", "ipresmgr")["spec"]["selector"]["matchLabels"],
        one(overlay, "NetworkPolicy", "ipresmgr")["spec"]["podSelector"]["matchLabels"],
    ):
        assert selects(selector, server_labels)
        assert not any(selects(selector, labels) for labels in other_pods)
    assert deployment["spec"]["replicas"] >= 2
    assert one(overlay, "PodDisruptionBudget", "ipresmgr")["spec"]["minAvailable"] < deployment["spec"]["replicas"]


def test_the_network_policy_admits_the_webhook_the_nodes_and_prometheus_only():
    policy = one("base", "NetworkPolicy", "ipresmgr")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    [rule] = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    peers = rule["from"]
    assert len(peers) == 3
    assert peers[0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "ipresmgr-webhook"}
    assert "cidr" in peers[1]["ipBlock"]
    assert peers[2]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}


@overlays
def test_pods_run_non_root_read_only_without_an_api_token(overlay):
    assert one(overlay, "ServiceAccount", "ipresmgr")["automountServiceAccountToken"] is False
    for obj in objects(overlay):
        if obj["kind"] not in POD_KINDS:
            continue
        spec = pod_spec(obj)
        if spec.get("serviceAccountName", "ipresmgr") == "ipresmgr":
            assert spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == dockerfile_user()
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            # A read-only root: what the process writes goes to emptyDirs.
            assert "emptyDir" in volumes[mounts["/tmp"]]
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            if "PROMETHEUS_MULTIPROC_DIR" in env:
                assert "emptyDir" in volumes[mounts[env["PROMETHEUS_MULTIPROC_DIR"]]]


@overlays
def test_the_deployment_probes_spreads_and_stops_gracefully(overlay):
    deployment = one(overlay, "Deployment", "ipresmgr")
    spec = pod_spec(deployment)
    container = server_container(overlay)
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] in OPS_ENDPOINTS
        assert container[probe]["httpGet"]["port"] == "http"
    assert {c["topologyKey"] for c in spec["topologySpreadConstraints"]} == {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
    }
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    graceful = int(config_values(overlay)["GUNICORN_GRACEFUL_TIMEOUT"])
    assert int(sleep[1]) + graceful < spec["terminationGracePeriodSeconds"]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


@overlays
def test_the_jobs_run_commands_that_exist(overlay):
    from django.core.management import get_commands

    commands = get_commands()
    job = one(overlay, "Job", "ipresmgr-migrate")
    assert pod_spec(job)["containers"][0]["args"][0] == "migrate"
    cron_commands = {pod_spec(c)["containers"][0]["args"][0] for c in objects(overlay, "CronJob")}
    assert {"purge_released_pools", "check_consistency", "prune_audit"} <= cron_commands
    for _, container in containers(overlay):
        if "args" in container:
            assert container["args"][0] in commands
    consistency = one(overlay, "CronJob", "ipresmgr-check-consistency")
    assert consistency["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0  # a finding is not retried
    assert all(c["spec"]["concurrencyPolicy"] == "Forbid" for c in objects(overlay, "CronJob"))


def test_every_job_and_cronjob_runs_a_command_with_arguments_it_accepts():
    """A renamed command or flag, or a ConfigMap value the flag refuses, fails here, not at 3 a.m."""
    checked = set()
    for folder in buildable_kustomizations():
        objs = rendered_folder(folder)
        for obj in jobs_and_cronjobs(objs):
            for container in pod_spec(obj)["containers"]:
                assert container["image"].split(":")[0].endswith(IMAGE_NAME)
                args = [expand(arg, container_env(container, objs)) for arg in container["args"]]
                assert not [arg for arg in args if "$(" in arg], (folder, obj["metadata"]["name"], args)
                parse_command_line(args)
            checked.add((obj["kind"], obj["metadata"]["name"]))
    # Every Job and CronJob written in docker/kubernetes/ is in some kustomization built above.
    written = {
        (doc["kind"], doc["metadata"]["name"])
        for path in KUBERNETES.rglob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if isinstance(doc, dict) and doc.get("kind") in ("Job", "CronJob")
    }
    assert written <= checked
    assert ("CronJob", "ipresmgr-prune-audit") in checked and ("CronJob", "ipresmgr-reconcile") in checked


def test_the_command_line_check_refuses_a_wrong_command_flag_or_value():
    from django.core.management import CommandError

    parse_command_line(["prune_audit", "--older-than", "90", "--batch-size", "500"])
    for wrong in (["prune_audits"], ["prune_audit", "--older-then", "90"], ["prune_audit", "--older-than", "x"]):
        with pytest.raises(CommandError):
            parse_command_line(wrong)


def test_the_prune_cronjob_takes_its_days_from_the_configmap():
    cronjob = one("base", "CronJob", "ipresmgr-prune-audit")
    [container] = pod_spec(cronjob)["containers"]
    assert container["args"] == ["prune_audit", "--older-than", "$(IPRESMGR_AUDIT_RETENTION_DAYS)"]
    assert config_values("base")["IPRESMGR_AUDIT_RETENTION_DAYS"] == "90"
    assert cronjob["spec"]["schedule"].split()[2:] == ["*", "*", "*"]  # daily
    assert pod_labels(cronjob)["app.kubernetes.io/component"] == "maintenance"
