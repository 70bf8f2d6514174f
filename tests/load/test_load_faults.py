"""The worst day, with real processes: several gunicorn instances and workers on one database,
64 clients at once, a worker SIGKILLed mid-load, PostgreSQL stopped mid-load, SQLite under
concurrent requests. Afterwards `check_consistency` passes and the clients' own timed records show
that no address was ever held by two pods at once."""

from __future__ import annotations

import os
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.load import LoadRun
from tests.support.servers import Gunicorn, PrivatePostgres, app_env, bound_pairs, manage, prepare_database

on_postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")


def assert_consistent(env: dict) -> None:
    result = manage(env, "check_consistency", check=False)
    assert result.returncode == 0, f"check_consistency failed:\n{result.stdout}\n{result.stderr}"


def assert_clients_saw_exclusive_addresses(load: LoadRun, env: dict) -> None:
    print(load.summary())
    assert load.done_ops == load.threads * load.ops
    assert not load.unexpected, load.unexpected[:20]
    assert len(load.holdings) > load.threads, "the load handed out too few addresses to prove anything"
    assert load.double_holdings() == []
    assert load.lost_or_leaked(bound_pairs(env)) == []


@pytest.fixture
def shared_pg_env(transactional_db):
    """The environment for servers on pytest's (committed, flushed afterwards) test database."""
    from django.db import connection

    url = urlsplit(os.environ["DATABASE_URL"])
    test_url = urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"]))
    return app_env(DATABASE_URL=test_url)


@pytest.fixture
def servers(tmp_path):
    started: list[Gunicorn] = []

    def start(env: dict, count: int = 2, **options) -> list[Gunicorn]:
        for _ in range(count):
            started.append(Gunicorn(env, tmp_path / f"gunicorn-{len(started)}.log", **options))
        return started

    yield start
    for server in started:
        server.stop()


@pytest.mark.postgres_only
def test_two_instances_under_mixed_load_never_give_one_address_to_two_pods(shared_pg_env, servers):
    token = prepare_database(shared_pg_env)
    instances = servers(shared_pg_env, count=2, workers=3)
    load = LoadRun([s.base for s in instances], token, threads=64, ops=25)
    load.run()
    assert load.answered(50) == [] and load.lost_connections() == []
    assert_clients_saw_exclusive_addresses(load, shared_pg_env)
    assert_consistent(shared_pg_env)


@pytest.mark.postgres_only
def test_worker_killed_mid_load_leaves_nothing_half_done(shared_pg_env, servers):
    token = prepare_database(shared_pg_env)
    instances = servers(shared_pg_env, count=2, workers=3)
    load = LoadRun([s.base for s in instances], token, threads=64, ops=25)
    runner = load.start()
    killed = []
    for fraction, instance in ((0.3, instances[0]), (0.6, instances[1])):
        load.wait_for_ops(int(load.threads * load.ops * fraction))
        killed.append(instance.kill_a_worker())
    runner.join(300)
    assert not runner.is_alive()
    for instance in instances:  # the masters replaced the killed workers
        assert len(instance.worker_pids()) == 3 and not set(killed) & set(instance.worker_pids())
    # Only the calls in flight on a killed worker lose their answer; their clients retry.
    assert len(load.lost_connections()) <= 2 * len(killed)
    assert load.answered(50) == []
    assert_clients_saw_exclusive_addresses(load, shared_pg_env)
    assert_consistent(shared_pg_env)


@pytest.fixture
def private_pg():
    server = PrivatePostgres()
    try:
        server.start()
        server.create_database("ipresmgr")
        yield server
    finally:
        server.remove()


@pytest.mark.postgres_only
def test_database_outage_answers_503_fast_and_service_recovers_without_restart(private_pg, servers):
    env = app_env(DATABASE_URL=private_pg.url("ipresmgr"))
    token = prepare_database(env)
    instances = servers(env, count=2, workers=3)
    load = LoadRun([s.base for s in instances], token, threads=64, ops=25)
    workers_before = {pid for s in instances for pid in s.worker_pids()}
    runner = load.start()
    load.wait_for_ops(int(load.threads * load.ops * 0.3))
    down_at = time.monotonic()
    private_pg.stop("immediate")  # a crash, as far as the app can tell
    time.sleep(4)
    private_pg.start()
    up_at = time.monotonic()
    runner.join(300)
    assert not runner.is_alive()

    unavailable = load.answered(50)
    assert unavailable, "no call saw the outage"
    for call in unavailable:
        assert call.status == 503
        # In flight when the database went away, or started during the outage.
        assert call.end >= down_at and call.start <= up_at, "Code 50 outside the outage"
        assert call.end - call.start < 10, f"a call took {call.end - call.start:.1f}s to fail"
    assert not [c for c in load.calls if c.start > up_at + 1 and (c.code == 50 or c.status == 0)]
    assert not [c for c in load.calls if c.status >= 500 and c.code != 50]
    assert_clients_saw_exclusive_addresses(load, env)
    assert_consistent(env)
    # The same workers served before and after: they reconnected by themselves.
    assert {pid for s in instances for pid in s.worker_pids()} == workers_before


@pytest.mark.skipif(on_postgres, reason="the SQLite pass covers the embedded engine")
def test_sqlite_serves_concurrent_requests_without_locking_errors(tmp_path, servers):
    env = app_env(DATABASE_URL=None, IPRESMGR_SQLITE_PATH=str(tmp_path / "load.sqlite3"))
    token = prepare_database(env)
    (instance,) = servers(env, count=1, workers=1, threads=16)
    load = LoadRun([instance.base], token, threads=32, ops=25)
    load.run()
    assert load.answered(50) == [] and load.lost_connections() == []
    assert "database is locked" not in instance.log_path.read_text()
    assert_clients_saw_exclusive_addresses(load, env)
    assert_consistent(env)
