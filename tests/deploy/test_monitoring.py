"""docker/kubernetes/components/monitoring and docker/monitoring: the PrometheusRule, ServiceMonitor,
ScrapeConfig and dashboard ConfigMap as kustomize renders them in the production overlay, valid
against the schemas in docker/kubernetes/schemas/, generated from their one source (the plain
rules file, generate.py's dashboard) and pointing at runbooks, paths and Secrets that exist. The
rules' behaviour is tested by promtool (docker/monitoring/tests/, .ci/stages/67-observability.sh)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from ipresmgr_site.health import OPS_ENDPOINTS
from tests.support.manifests import KUBERNETES, REPO, one, rendered

MONITORING = REPO / "docker" / "monitoring"
SCHEMAS = KUBERNETES / "schemas"
KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_v1_servicemonitor.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_v1_prometheusrule.json",
    ("monitoring.coreos.com/v1alpha1", "ScrapeConfig"): "monitoring.coreos.com_v1alpha1_scrapeconfig.json",
}


def schema(api_version: str, kind: str) -> dict:
    return json.loads((SCHEMAS / KINDS[(api_version, kind)]).read_text())


def plain_groups() -> list[dict]:
    return yaml.safe_load((MONITORING / "ipresmgr-rules.yaml").read_text())["groups"]


def alerts() -> list[dict]:
    return [rule for group in plain_groups() for rule in group["rules"] if "alert" in rule]


def test_the_monitoring_objects_are_valid_against_the_vendored_schemas():
    found = set()
    for obj in rendered("production"):
        key = (obj["apiVersion"], obj["kind"])
        if key in KINDS:
            jsonschema.validate(obj, schema(*key))
            found.add(key)
    assert found == set(KINDS)


@pytest.mark.parametrize(
    ("kind", "name", "path", "typo"),
    [
        ("ServiceMonitor", "ipresmgr", ["spec", "endpoints", 0], ("bearerTokenSecrets", {"key": "x"})),
        ("PrometheusRule", "ipresmgr", ["spec", "groups", 0, "rules", 0], ("annotation", {})),
        ("ScrapeConfig", "ipresmgr-database", ["spec"], ("metricPath", "/metrics")),
    ],
)
def test_the_schemas_refuse_a_misspelt_field(kind, name, path, typo):
    obj = one("production", kind, name)
    target = obj
    for step in path:
        target = target[step]
    target[typo[0]] = typo[1]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(obj, schema(obj["apiVersion"], kind))


def test_the_generated_files_are_fresh():
    result = subprocess.run(
        [sys.executable, str(MONITORING / "generate.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_prometheusrule_has_the_plain_files_groups():
    rule = one("production", "PrometheusRule", "ipresmgr")
    assert rule["spec"]["groups"] == plain_groups()
    assert rule["metadata"]["namespace"] == "ipresmgr"


def test_every_alert_has_a_severity_a_summary_and_a_runbook_that_exists():
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == len(set(names)) >= 15
    for rule in alerts():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert "{{ $labels." in rule["annotations"]["summary"], rule["alert"]  # names the subnet/pool/instance
        url = rule["annotations"]["runbook_url"]
        assert url.endswith(f"/docs/runbooks/{rule['alert']}.md"), url
        assert (REPO / "docs" / "runbooks" / f"{rule['alert']}.md").is_file(), rule["alert"]
    index = (REPO / "docs" / "runbooks" / "README.md").read_text()
    assert set(re.findall(r"\]\((IPResMgr\w+)\.md\)", index)) == set(names)


def test_the_dashboard_configmap_carries_the_plain_dashboard_with_the_sidecar_label():
    configmap = one("production", "ConfigMap", "ipresmgr-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    [(key, text)] = configmap["data"].items()
    assert key.endswith(".json")
    assert json.loads(text) == json.loads((MONITORING / "ipresmgr-dashboard.json").read_text())
    panels = json.loads(text)["panels"]
    assert all(target["expr"] for panel in panels for target in panel["targets"])


def test_the_scrapes_reach_the_service_paths_with_the_token():
    service = one("production", "Service", "ipresmgr")
    [port] = [p for p in service["spec"]["ports"] if p["name"] == "http"]
    token = {"name": "ipresmgr-secrets", "key": "IPRESMGR_METRICS_TOKEN"}
    monitor = one("production", "ServiceMonitor", "ipresmgr")
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics/instance" and endpoint["path"] in OPS_ENDPOINTS
    assert endpoint["honorLabels"] is True  # else the calls' `endpoint` label becomes exported_endpoint
    assert endpoint["authorization"] == {"type": "Bearer", "credentials": token}
    scrape = one("production", "ScrapeConfig", "ipresmgr-database")
    assert scrape["spec"]["metricsPath"] == "/metrics/database" and "/metrics/database" in OPS_ENDPOINTS
    namespace = service["metadata"]["namespace"]
    assert scrape["spec"]["staticConfigs"][0]["targets"] == [f"ipresmgr.{namespace}.svc:{port['port']}"]
    assert scrape["spec"]["authorization"] == {"type": "Bearer", "credentials": token}


def test_the_runbook_base_is_overridable(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text((MONITORING / "ipresmgr-rules.yaml").read_text())
    sys.path.insert(0, str(MONITORING))
    try:
        import generate
    finally:
        sys.path.remove(str(MONITORING))
    rewritten = generate.RUNBOOK_URL.sub(lambda m: f"{m[1]}https://wiki.example.org/ipr/{m[3]}", rules.read_text())
    urls = [r["annotations"]["runbook_url"] for g in yaml.safe_load(rewritten)["groups"] for r in g["rules"]]
    assert urls and all(re.fullmatch(r"https://wiki\.example\.org/ipr/IPResMgr\w+\.md", url) for url in urls)


def test_the_plain_files_are_where_the_docs_say():
    assert Path(MONITORING / "ipresmgr-rules.yaml").is_file() and Path(MONITORING / "ipresmgr-dashboard.json").is_file()
