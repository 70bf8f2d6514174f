"""The image, the settings and the manifests agree: the Dockerfile, the variables the code reads,
Django's deployment checks with the manifests' settings, the whole production overlay."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import yaml

from ipresmgr_site import __version__
from tests.support.manifests import (
    DOCKER,
    IMAGE_NAME,
    KUBERNETES,
    PORT,
    READ_ELSEWHERE,
    REPO,
    SIDECAR_IMAGES,
    containers,
    dockerfile,
    dockerfile_user,
    documented_variables,
    manifest_variables,
    objects,
    one,
    overlays,
    pod_spec,
    server_container,
    service_containers,
    variables_in_arguments,
    variables_read_by_the_code,
)

# Agreement with the Dockerfile, the settings, the CI stage and the docs ---------------------------


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


def test_the_code_reads_a_sane_set_of_variables():
    names = variables_read_by_the_code()
    assert {"DATABASE_URL", "IPRESMGR_SECRET_KEY", "PORT", "GUNICORN_WORKERS", "IPRESMGR_MIGRATE_ON_START"} <= names


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
