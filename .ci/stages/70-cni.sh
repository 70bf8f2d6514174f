#!/usr/bin/env bash
# The CNI IPAM plugin (cni/, issues 15 and 19): installs what it needs from Debian when missing (golang-go,
# containernetworking-plugins, iproute2), checks gofmt, runs go vet and the Go unit tests, builds
# the static binary, then the end-to-end test (tests/cni/): the bridge and macvlan plugins
# delegating IPAM to ipresmgr-ipam against IPResMgr (gunicorn on PostgreSQL, database ipr_cni) and
# a stand-in Kubernetes API, inside network namespaces of its own (iprcni-*), with intruders
# holding addresses on the wire (probe and quarantine) and a run through libcni itself
# (cni/cmd/ipresmgr-cnirun). Go builds offline from cni/vendor/. Needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)

need=()
command -v go >/dev/null || need+=(golang-go)
{ [ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/macvlan ]; } || need+=(containernetworking-plugins)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
bash scripts/setup.sh
. .venv/bin/activate
bash scripts/ensure-postgres.sh

# Namespaces this stage's test left behind when it was killed (older than an hour; a run of its
# own cleans up after itself, even on failure).
{ find /var/run/netns -maxdepth 1 -name 'iprcni-*' -mmin +60 -printf '%f\n' 2>/dev/null || true; } | while read -r ns; do
  echo "removing a stale namespace of an earlier run: $ns"
  ip netns del "$ns" || true
done

work=$(mktemp -d /tmp/iprcni-ci.XXXXXX)
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=vendor GOPROXY=off # everything from cni/vendor/: nothing to download
(
  cd cni
  echo "-- gofmt -l"
  unformatted=$(gofmt -l cmd internal) # vendor/ is Debian's code as shipped
  if [ -n "$unformatted" ]; then echo "not gofmt-formatted: $unformatted" >&2; exit 1; fi
  echo "-- go vet"
  go vet ./...
  echo "-- go test"
  go test -count=1 ./...
  echo "-- go build (CGO_ENABLED=0)"
  version=$(git rev-parse --short HEAD 2>/dev/null || echo dev)
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$work/ipresmgr-ipam" ./cmd/ipresmgr-ipam
  echo "-- go build the libcni test runtime (ipresmgr-cnirun)"
  CGO_ENABLED=0 go build -trimpath -o "$work/ipresmgr-cnirun" ./cmd/ipresmgr-cnirun
)
if ldd "$work/ipresmgr-ipam" >/dev/null 2>&1; then
  echo "ipresmgr-ipam is not a static binary" >&2
  exit 1
fi
"$work/ipresmgr-ipam" version

echo "-- the DaemonSet's installer with the shipped settings (docker/kubernetes/cni)"
inst="$work/install"
mkdir -p "$inst/bin" "$inst/conf" "$inst/sa"
echo "ipr_example_token" > "$inst/token"
echo "sa.example.token" > "$inst/sa/token"
printf -- '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' > "$inst/sa/ca.crt"
"$work/ipresmgr-ipam" install --bin-dir "$inst/bin" --conf-dir "$inst/conf" --config docker/kubernetes/cni/ipresmgr.conf \
  --token "$inst/token" --serviceaccount-dir "$inst/sa" --kubernetes-api https://10.96.0.1:443
cmp "$work/ipresmgr-ipam" "$inst/bin/ipresmgr-ipam"
test -s "$inst/conf/kubeconfig" && test -s "$inst/conf/ipresmgr.conf" && test -s "$inst/conf/token"
if command -v kubectl >/dev/null; then
  kubectl kustomize docker/kubernetes/cni > "$work/cni-manifests.yaml"
  echo "kustomize build: $(grep -c '^kind:' "$work/cni-manifests.yaml") objects"
fi

echo "-- end to end (bridge, macvlan, IPResMgr on PostgreSQL)"
env -u DATABASE_URL IPRESMGR_CNI_E2E=1 IPRESMGR_CNI_BIN="$work/ipresmgr-ipam" IPRESMGR_CNI_RUNTIME="$work/ipresmgr-cnirun" pytest tests/cni
echo "-- CNI stage passed in $(( $(date +%s) - start ))s"
