"""The failover scenarios start database servers and gunicorn instances of their own and take a
few minutes: they run in their own CI stages, or when asked by the environment:
test_failover.py (.ci/stages/75-failover.sh) with IPRESMGR_FAILOVER_TESTS=1, test_patroni.py
(.ci/stages/76-patroni.sh) with IPRESMGR_PATRONI_TESTS=1."""

import os

import pytest

FLAGS = {"test_patroni.py": "IPRESMGR_PATRONI_TESTS", "test_failover.py": "IPRESMGR_FAILOVER_TESTS"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/failover/" not in item.nodeid:
            continue
        flag = FLAGS.get(item.path.name, "IPRESMGR_FAILOVER_TESTS")
        if os.environ.get(flag) != "1":
            item.add_marker(pytest.mark.skip(reason=f"failover scenario with real servers: set {flag}=1"))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """The outcome of each phase on the item, so a fixture can show its servers' logs on failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
