"""Fixtures: a cluster with a token, an operator token, a subnet, and a caller for /v1."""

from __future__ import annotations

import pytest

from core.choices import AdminAction
from pools import services
from pools.auth import token_cache
from tests.support.api import (
    CLUSTER,
    V1,
    command_ctx,
    make_subnet,
)


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    import os

    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        for item in items:
            if "postgres_only" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    """Each test starts with no token trusted from an earlier one."""
    token_cache._entries.clear()
    yield


@pytest.fixture
def cluster_token(db) -> str:
    _, key = services.cluster_create(ctx=command_ctx(AdminAction.CLUSTER_CREATE), cluster_id=CLUSTER)
    return key


@pytest.fixture
def other_cluster_token(db) -> str:
    _, key = services.cluster_create(ctx=command_ctx(AdminAction.CLUSTER_CREATE), cluster_id="c2")
    return key


@pytest.fixture
def operator_token(db) -> str:
    _, key = services.token_create(ctx=command_ctx(AdminAction.TOKEN_CREATE), cluster=None)
    return key


@pytest.fixture
def subnet(db):
    return make_subnet()


@pytest.fixture
def v1(cluster_token, subnet) -> V1:
    return V1(cluster_token)
