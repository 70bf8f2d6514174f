"""The load and fault tests start real servers and take a minute or two: they run in their own CI
stage (.ci/stages/40-load-faults.sh), or when IPRESMGR_LOAD_TESTS=1 is set."""

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("IPRESMGR_LOAD_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="load test: set IPRESMGR_LOAD_TESTS=1 or run .ci/stages/40-load-faults.sh")
    for item in items:
        if "tests/load/" in item.nodeid:
            item.add_marker(skip)
