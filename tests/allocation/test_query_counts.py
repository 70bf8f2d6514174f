"""The hot paths keep their statement counts: an N+1 or a lost shortcut fails here, not in a cluster.

Counts are of everything Django sends inside the test's transaction. On PostgreSQL, binding an idle
address and letting one go back to idle are each one statement (lease, idle queue and audit event
together), atomic without BEGIN/COMMIT. SQLite takes the general path: a transaction (a SAVEPOINT
pair here) with a statement per step."""

from __future__ import annotations

import pytest

from tests.support.api import holder, on_postgres

TRANSACTION = 2  # SAVEPOINT + RELEASE SAVEPOINT (BEGIN + COMMIT outside tests)


@pytest.fixture
def pool(v1):
    assert v1.create_pool(4).json()["Code"] == 0  # also caches the token: no lookup below
    return v1


def test_require_of_an_idle_address(pool, django_assert_num_queries):
    # SQLite: the pool, the pod's lease (none), the idle address, take it, write the lease, audit
    with django_assert_num_queries(1 if on_postgres() else TRANSACTION + 6):
        body = pool.require("pod-1").json()
    assert body["Code"] == 0 and holder(body["IP"]) == "pod-1"


def test_require_retried_by_the_holding_pod(pool, django_assert_num_queries):
    first = pool.require("pod-1").json()
    # SQLite: the pool, the pod's lease (found), audit
    with django_assert_num_queries(1 if on_postgres() else TRANSACTION + 3):
        again = pool.require("pod-1").json()
    assert again["IP"] == first["IP"]


def test_release_of_a_bound_address(pool, django_assert_num_queries):
    ip = pool.require("pod-1").json()["IP"]
    # SQLite: the pools holding it, its lease, end the lease, queue the address, audit
    with django_assert_num_queries(1 if on_postgres() else TRANSACTION + 5):
        assert pool.release("pod-1", ip).json()["Code"] == 0
    assert holder(ip) is None


def test_release_with_nothing_bound(pool, django_assert_num_queries):
    # SQLite: the pools holding anything for the pod (none), audit
    with django_assert_num_queries(1 if on_postgres() else TRANSACTION + 2):
        assert pool.release("pod-never").json()["Code"] == 0


@pytest.mark.skipif(not on_postgres(), reason="prepared statements are PostgreSQL's")
def test_the_hot_statements_are_prepared_on_their_connection(pool):
    from django.db import connection

    def prepared_requires() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%%FOR UPDATE SKIP LOCKED%%'"
            )
            return cursor.fetchone()[0]

    for n in range(6):  # the threshold is 5 executions of one statement on one connection
        body = pool.require(f"pod-{n}").json()
        assert body["Code"] == 0, body
        assert pool.release(f"pod-{n}", body["IP"]).json()["Code"] == 0
    assert prepared_requires() >= 1
