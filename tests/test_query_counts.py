"""The hot paths keep their statement counts: an N+1 or a lost shortcut fails here, not in a cluster.

Counts are of everything Django sends inside the test's transaction: the token lookup, the
service's statements, and the SAVEPOINT / RELEASE SAVEPOINT that stand for BEGIN / COMMIT here."""

from __future__ import annotations

import pytest

from tests.conftest import holder, on_postgres

AUTH = 1  # the token lookup
TRANSACTION = 2  # SAVEPOINT + RELEASE SAVEPOINT (BEGIN + COMMIT outside tests)
# A binding is two rows (the lease, the address's place in the idle queue): PostgreSQL changes
# both in one statement, SQLite (no UPDATE or DELETE inside WITH) in two.
BOTH_ROWS = 1 if on_postgres() else 2


@pytest.fixture
def pool(v1):
    assert v1.create_pool(4).json()["Code"] == 0
    return v1


def test_require_of_an_idle_address_takes_four_statements(pool, django_assert_num_queries):
    # token, lock the pool, bind the longest idle address (UPDATE ... RETURNING + lease), audit
    with django_assert_num_queries(AUTH + TRANSACTION + 2 + BOTH_ROWS):
        body = pool.require("pod-1").json()
    assert body["Code"] == 0 and holder(body["IP"]) == "pod-1"


def test_require_retried_by_the_holding_pod_takes_five_statements(pool, django_assert_num_queries):
    first = pool.require("pod-1").json()
    # token, lock, the bind that finds the pod already holds one, read that one, audit
    with django_assert_num_queries(AUTH + TRANSACTION + 4):
        again = pool.require("pod-1").json()
    assert again["IP"] == first["IP"]


def test_release_of_a_bound_address_takes_five_statements(pool, django_assert_num_queries):
    ip = pool.require("pod-1").json()["IP"]
    # token, lock the pools holding it, read its lease under the lock, end it and queue the address, audit
    with django_assert_num_queries(AUTH + TRANSACTION + 3 + BOTH_ROWS):
        assert pool.release("pod-1", ip).json()["Code"] == 0
    assert holder(ip) is None


def test_release_with_nothing_bound_takes_three_statements(pool, django_assert_num_queries):
    # token, find no pool holding anything for the pod, audit
    with django_assert_num_queries(AUTH + TRANSACTION + 2):
        assert pool.release("pod-never").json()["Code"] == 0
