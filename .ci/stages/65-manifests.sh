#!/usr/bin/env bash
# The deployment files: hadolint on docker/Dockerfile (clean, or each ignore justified in place),
# then tests/deploy: both kustomizations rendered (kubectl's kustomize, from requirements-dev.txt),
# every object strictly valid against the Kubernetes 1.30 schemas (kubernetes-validate), the CRD
# objects' required fields, agreement with the Dockerfile, the settings and the docs, and
# `check --deploy` silent with the manifests' settings. About 20 seconds.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
. .venv/bin/activate
echo "-- hadolint docker/Dockerfile"
hadolint docker/Dockerfile
echo "-- tests/deploy"
env -u DATABASE_URL IPRESMGR_DEPLOY_TESTS=1 pytest tests/deploy
