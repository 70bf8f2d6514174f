"""The failover scenarios start a primary, a streaming standby and gunicorn instances of their own
and take a few minutes: they run in their own CI stage (.ci/stages/75-failover.sh), or when
IPRESMGR_FAILOVER_TESTS=1 is set."""

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("IPRESMGR_FAILOVER_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="failover scenario: set IPRESMGR_FAILOVER_TESTS=1 or run .ci/stages/75-failover.sh")
    for item in items:
        if "tests/failover/" in item.nodeid:
            item.add_marker(skip)
