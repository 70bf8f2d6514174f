#!/usr/bin/env bash
# API docs: the OpenAPI schema validates with no warning, and Schemathesis fuzzes every operation
# of a live server (SQLite, demo data, an operator token): no 5xx, every answer as documented.
# Bounded: --max-examples per operation and a hard timeout on the run (about 2 minutes in all).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -n "${VIRTUAL_ENV:-}" ] || . .venv/bin/activate

work=$(mktemp -d /tmp/ipresmgr-api-docs.XXXXXX)
port=${API_DOCS_PORT:-8150}
base="http://127.0.0.1:$port"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "-- spectacular --validate --fail-on-warn"
python manage.py spectacular --validate --fail-on-warn --file "$work/schema.yaml"

echo "-- live server with demo data on $base"
# SQLite by default; API_DOCS_DATABASE_URL=postgres://.../a_throwaway_db runs it on PostgreSQL.
export IPRESMGR_SQLITE_PATH="$work/db.sqlite3"
if [ -n "${API_DOCS_DATABASE_URL:-}" ]; then export DATABASE_URL=$API_DOCS_DATABASE_URL; else unset DATABASE_URL; fi
# Fuzzed replica counts must not reserve huge pools: each call reserves at most 64 addresses.
export IPRESMGR_MAX_RESERVE_PER_CALL=64
export IPRESMGR_SECRET_KEY=${IPRESMGR_SECRET_KEY:-ci-api-docs-$(python -c 'import secrets; print(secrets.token_urlsafe(32))')}
python manage.py migrate --no-input -v0
python manage.py demo --base-url "$base" > "$work/demo.txt"
operator_token=$(awk '/^Operator token:/ {print $3}' "$work/demo.txt")
cluster_token=$(awk '/^Cluster token:/ {print $3}' "$work/demo.txt")
# No request-line limit: gunicorn's own 414 page is HTML, before Django sees the request (a front-end
# matter, reported); here the fuzzer's long query strings must reach the application.
gunicorn ipresmgr_site.wsgi --bind "127.0.0.1:$port" --workers 2 --threads 4 --limit-request-line 0 \
  > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 50); do
  curl -fsS -o /dev/null "$base/api/schema/" 2>/dev/null && break
  sleep 0.2
done
curl -fsS -o /dev/null "$base/api/docs/"
curl -fsS -o /dev/null "$base/api/redoc/"

# Some state to read: a pool of 3 with one bound address.
call() {
  curl -sS -H "Authorization: Bearer $cluster_token" -H 'Content-Type: application/json' -d "$2" "$base$1" > /dev/null
}
workload='"K8SClusterID":"demo-cluster","K8SNamespace":"default","K8SApiResourceKind":0,"K8SApiResourceName":"web"'
call /v1/ippool/create "{\"ReqID\":\"ci-1\",$workload,\"K8SApiResourceReplicas\":3,\"NetRegionalID\":\"region-1\",\"SubnetID\":\"subnet-demo\",\"SubnetGatewayAddr\":\"10.0.3.1\"}"
call /v1/ip/require "{\"ReqID\":\"ci-2\",$workload,\"K8SApiResourceID\":\"deploy-uid-1\",\"K8SPodID\":\"pod-uid-1\"}"

echo "-- schemathesis"
# Not positive_data_acceptance (a well-formed request may rightly be refused: Code 10, 20, ...) nor
# negative_data_rejection (an empty filter, ?PortID=, means no filter; the schema cannot say "or empty").
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
checks=$checks,response_headers_conformance,ignored_auth,unsupported_method
status=0
timeout 240 st run "$base/api/schema/" \
  --header "Authorization: Bearer $operator_token" \
  --checks "${API_DOCS_CHECKS:-$checks}" \
  --phases examples,coverage,fuzzing \
  --max-examples "${API_DOCS_MAX_EXAMPLES:-40}" \
  --seed "${API_DOCS_SEED:-4}" \
  --request-timeout 10 \
  --workers 1 \
  --no-shrink || status=$?
# The admission webhook refuses an operator token (it names no cluster): fuzz it with the cluster's.
echo "-- schemathesis: /k8s/admission with the cluster token"
timeout 120 st run "$base/api/schema/" \
  --include-path /k8s/admission \
  --header "Authorization: Bearer $cluster_token" \
  --checks "${API_DOCS_CHECKS:-$checks}" \
  --phases examples,coverage,fuzzing \
  --max-examples "${API_DOCS_MAX_EXAMPLES:-40}" \
  --seed "${API_DOCS_SEED:-4}" \
  --request-timeout 10 \
  --workers 1 \
  --no-shrink || status=$?
if [ "$status" != 0 ] || grep -q "Traceback" "$work/server.log"; then
  echo "-- server log (tracebacks)" >&2
  grep -B2 -A40 "Traceback" "$work/server.log" | tail -200 >&2 || true
  exit 1
fi
