#!/usr/bin/env bash
# The image, built and run for real (issue 9). No Docker engine runs here: Debian's buildah builds
# and runs it as root with chroot isolation (podman only imports the base: `podman run` fails on
# setrlimit here). The public python image cannot be pulled, so the base is a Debian bookworm made
# by debootstrap with python3 and python3-venv (the Dockerfile's other supported base), cached in
# $IPRESMGR_CI_CACHE (default /var/cache/ipresmgr-ci) and as a local image.
#
# Then, against PostgreSQL on 127.0.0.1: IMAGE migrate, serve, /readyz turns 200, a create +
# require + release round trip answers Code 0, /metrics counts the calls, the call's JSON log line,
# a JSON answer at the edge, SIGTERM stops it cleanly. About 2 minutes (5 on a machine without the
# cache: packages and debootstrap).
set -euo pipefail
cd "$(dirname "$0")/../.."
stage_start=$(date +%s)
step() { echo "-- $* ($(( $(date +%s) - stage_start ))s)"; }

CACHE=${IPRESMGR_CI_CACHE:-/var/cache/ipresmgr-ci}
BASE=localhost/ipresmgr-ci-base:bookworm
IMAGE=${IPRESMGR_CI_IMAGE:-localhost/ipresmgr:ci}
PORT=${IMAGE_STAGE_PORT:-8560}
PG=${IMAGE_STAGE_PG:-postgres://postgres@127.0.0.1:5432}
DB=${IMAGE_STAGE_DB:-ipresmgr_image_ci}
SECRET_KEY="ci-image-only-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

step "tools: buildah, podman, debootstrap"
missing=""
for tool in buildah podman debootstrap; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  apt-get install -y -qq $missing >/dev/null
fi
bash scripts/setup.sh
. .venv/bin/activate
version=$(python -c 'import ipresmgr_site; print(ipresmgr_site.__version__)')

step "base image $BASE (debootstrap --variant=minbase bookworm, cached)"
if ! podman image exists "$BASE"; then
  tarball="$CACHE/bookworm-python3-base.tar.gz"
  if [ ! -s "$tarball" ]; then
    mkdir -p "$CACHE"
    rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" "$MIRROR" \
      > "$CACHE/debootstrap.log" 2>&1 || { tail -30 "$CACHE/debootstrap.log"; exit 1; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | gzip -1 > "$tarball.tmp"
    mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  gunzip -c "$tarball" | podman import - "$BASE" >/dev/null
fi

step "buildah bud $IMAGE (BASE_IMAGE=$BASE)"
buildah bud --isolation chroot --network host --layers --format docker --quiet \
  -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
  --build-arg BASE_IMAGE="$BASE" --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  -f docker/Dockerfile -t "$IMAGE" . >/dev/null
label=$(buildah inspect --type image --format '{{index .Docker.Config.Labels "org.opencontainers.image.version"}}' "$IMAGE")
[ "$label" = "$version" ] || { echo "image version label $label, project $version" >&2; exit 1; }
user=$(buildah inspect --type image --format '{{.Docker.Config.User}}' "$IMAGE")
[ "$user" = "10001:10001" ] || { echo "image user $user" >&2; exit 1; }
buildah inspect --type image --format '{{.Docker.Config.Healthcheck.Test}}' "$IMAGE" | grep -q /healthz

work=$(mktemp -d /tmp/ipresmgr-image.XXXXXX)
chmod 0777 "$work"  # the image's user writes the pid file here
ctr=""
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    [ -s "$work/gunicorn.pid" ] && kill -TERM "$(cat "$work/gunicorn.pid")" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$server" 2>/dev/null || break; sleep 1; done
    kill -KILL "$server" 2>/dev/null || true
  fi
  [ -n "$ctr" ] && buildah rm "$ctr" >/dev/null 2>&1 || true
  psql "$PG/postgres" -qAt -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

bash scripts/ensure-postgres.sh
psql "$PG/postgres" -qAt -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" -c "CREATE DATABASE \"$DB\"" >/dev/null
ctr=$(buildah from --name "ipresmgr-ci-$$" "$IMAGE")
run() {
  buildah run --isolation chroot --network host \
    -e DATABASE_URL="$PG/$DB" -e IPRESMGR_SECRET_KEY="$SECRET_KEY" "$@"
}

step "the image as a command: IMAGE migrate, create_cluster, create_subnet"
[ "$(run "$ctr" -- id -u)" = 10001 ]
if run "$ctr" -- sh -c 'command -v gcc || command -v cc || command -v make' >/dev/null 2>&1; then
  echo "a compiler in the image" >&2; exit 1
fi
run "$ctr" -- /app/docker/entrypoint.sh migrate --no-input
token=$(run "$ctr" -- /app/docker/entrypoint.sh create_cluster --cluster-id ci-image | tail -n1)
run "$ctr" -- /app/docker/entrypoint.sh create_subnet --net-regional-id region-ci --subnet-id subnet-ci \
  --cidr 10.44.0.0/24 --gateway 10.44.0.1 >/dev/null

step "serve (no arguments; IPRESMGR_MIGRATE_ON_START=1 migrates again: nothing to do)"
run -v "$work:/run/ci" -e GUNICORN_PIDFILE=/run/ci/gunicorn.pid -e GUNICORN_BIND="127.0.0.1:$PORT" \
  -e IPRESMGR_MIGRATE_ON_START=1 -e GUNICORN_WORKERS=2 -e IPRESMGR_INSTANCE=ci-image \
  "$ctr" -- /app/docker/entrypoint.sh > "$work/server.out" 2> "$work/server.err" &
server=$!
base="http://127.0.0.1:$PORT"
ready=""
for _ in $(seq 1 120); do
  kill -0 "$server" 2>/dev/null || { cat "$work/server.err" >&2; echo "the server exited" >&2; exit 1; }
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200 ]; then ready=1; break; fi
  sleep 0.5
done
[ -n "$ready" ] || { cat "$work/server.err" >&2; echo "/readyz never answered 200" >&2; exit 1; }
curl -fsS "$base/healthz" | grep -q '"status": "ok"'
# The start page and the docs it links are in the image (templates/ and docs/ are copied).
# (Into files first: grep -q stops reading early, and curl then fails writing under pipefail.)
curl -fsS -o "$work/home.html" "$base/" && grep -q 'href="/docs/deploy.md"' "$work/home.html"
curl -fsS -o "$work/contract.md" "$base/docs/contract.md" && grep -q '^# ' "$work/contract.md"

step "round trip: create, require, release"
W='"K8SClusterID":"ci-image","K8SNamespace":"default","K8SApiResourceKind":0,"K8SApiResourceName":"web"'
call() { curl -sS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "$2" "$base$1"; }
code_of() { python -c 'import json, sys; print(json.load(sys.stdin)["Code"])'; }
[ "$(call /v1/ippool/create "{\"ReqID\":\"ci-create\",$W,\"K8SApiResourceReplicas\":3,\"NetRegionalID\":\"region-ci\",\"SubnetID\":\"subnet-ci\",\"SubnetGatewayAddr\":\"10.44.0.1\"}" | code_of)" = 0 ]
require=$(call /v1/ip/require "{\"ReqID\":\"ci-require\",$W,\"K8SApiResourceID\":\"uid-1\",\"K8SPodID\":\"pod-1\"}")
[ "$(echo "$require" | code_of)" = 0 ]
ip=$(echo "$require" | python -c 'import json, sys; print(json.load(sys.stdin)["IP"])')
[ "$(call /v1/ip/release "{\"ReqID\":\"ci-release\",$W,\"K8SApiResourceID\":\"uid-1\",\"K8SPodID\":\"pod-1\",\"IP\":\"$ip\"}" | code_of)" = 0 ]
echo "require gave $ip; released"

step "/metrics, the call's log line, the edge"
metrics=$(curl -fsS "$base/metrics")
for line in 'ipresmgr_v1_calls_total{code="0",endpoint="/v1/ip/require"} 1.0' \
            'ipresmgr_v1_calls_total{code="0",endpoint="/v1/ip/release"} 1.0' \
            'ipresmgr_pools_active 1.0' \
            'ipresmgr_database_up 1.0'; do
  grep -qF "$line" <<< "$metrics" || { echo "not in /metrics: $line" >&2; echo "$metrics" >&2; exit 1; }
done
python - "$work/server.err" "$token" <<'EOF'
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
[call] = [line for line in lines if line.get("ReqID") == "ci-require"]
assert call["logger"] == "ipresmgr.calls" and call["Code"] == 0 and call["status"] == 200, call
assert call["endpoint"] == "/v1/ip/require" and call["pod"] == "pod-1" and call["instance"] == "ci-image", call
assert sys.argv[2] not in open(sys.argv[1]).read(), "a token in the log"
EOF
edge=$(curl -sS -o "$work/edge.json" -w '%{http_code} %{content_type}' "$base/v1/ip/require?x=$(head -c 5000 /dev/zero | tr '\0' a)")
[ "$edge" = "414 application/json" ] && [ "$(code_of < "$work/edge.json")" = 1 ]

step "SIGTERM"
kill -TERM "$(cat "$work/gunicorn.pid")"
status=""
for _ in $(seq 1 60); do
  if ! kill -0 "$server" 2>/dev/null; then wait "$server" && status=0 || status=$?; break; fi
  sleep 0.5
done
server=""
[ "$status" = 0 ] || { tail -20 "$work/server.err" >&2; echo "the server did not stop cleanly (status '$status')" >&2; exit 1; }
grep -q '"msg":"Shutting down: Master"' "$work/server.err"
step "image stage passed"
