"""The deployment files (docker/): rendered, validated and checked against each other and the code.
They need the tools of requirements-dev.txt (kubectl for kustomize, kubernetes-validate) and run in
their own CI stage (.ci/stages/65-manifests.sh), or when IPRESMGR_DEPLOY_TESTS=1 is set."""

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("IPRESMGR_DEPLOY_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="deployment files: set IPRESMGR_DEPLOY_TESTS=1 or run .ci/stages/65-manifests.sh")
    for item in items:
        if "tests/deploy/" in item.nodeid:
            item.add_marker(skip)
