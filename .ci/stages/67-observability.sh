#!/usr/bin/env bash
# Alerts, dashboard and metrics (issue 21): promtool (Debian's `prometheus` package, installed when
# missing) checks the rules file and runs its unit tests (docker/monitoring/tests/, one file per
# group), parses every query of the dashboard, and lints /metrics, /metrics/instance and
# /metrics/database of a live gunicorn after a call of every kind; then the monitoring component
# rendered by kustomize and validated against docker/kubernetes/schemas/ (tests/deploy/test_monitoring.py).
# About a minute, plus the apt install.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
. .venv/bin/activate
if ! command -v promtool >/dev/null; then
  echo "-- apt-get install prometheus (for promtool)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
promtool --version | head -1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "-- the generated files are fresh (PrometheusRule, dashboard JSON and ConfigMap)"
python docker/monitoring/generate.py --check

echo "-- promtool check rules"
promtool check rules docker/monitoring/ipresmgr-rules.yaml

echo "-- promtool test rules (a file per group)"
promtool test rules docker/monitoring/tests/*.test.yaml

echo "-- every dashboard query parses (as recording rules)"
python - "$work/dashboard-rules.yaml" <<'PY'
import subprocess, sys, yaml
queries = subprocess.run([sys.executable, "docker/monitoring/generate.py", "--expressions"],
                         check=True, capture_output=True, text=True).stdout.splitlines()
assert queries, "the dashboard has no queries"
# Grafana's variables as Prometheus would see them once Grafana has filled them in.
fill = {"$__rate_interval": "5m", "$namespace": ".*"}
rules = []
for n, query in enumerate(queries):
    for name, value in fill.items():
        query = query.replace(name, value)
    assert "$" not in query, f"an unknown Grafana variable in: {query}"
    rules.append({"record": f"dashboard:query_{n}", "expr": query})
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[1], "w"))
print(f"{len(rules)} queries")
PY
promtool check rules "$work/dashboard-rules.yaml"

echo "-- promtool check metrics on a live server"
python docker/monitoring/live_scrape.py "$work/scrapes"
for scrape in "$work"/scrapes/*.prom; do
  echo "   $(basename "$scrape")"
  promtool check metrics < "$scrape"
done

echo "-- the monitoring component rendered and validated"
env -u DATABASE_URL IPRESMGR_DEPLOY_TESTS=1 pytest -q tests/deploy/test_monitoring.py
