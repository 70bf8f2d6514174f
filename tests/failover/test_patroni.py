"""An automatic failover by Patroni (Debian's patroni and etcd-server; etcd on loopback): two
members, `synchronous_mode: true`, the leader killed (Patroni and PostgreSQL, SIGKILL) under load.
Patroni promotes the synchronous replica once the leader key expires, the service follows through
the multi-host URL, and no acknowledged binding is lost."""

from __future__ import annotations

import time

import psycopg
import pytest

from tests.failover.cluster import failovers_counted, instance_env, start_instance
from tests.failover.patroni import PatroniCluster
from tests.support.failover import assert_only_unavailable_or_definite, figures
from tests.support.load import LoadRun
from tests.support.servers import bound_pairs, manage, prepare_database


@pytest.fixture
def patroni(request):
    cluster = PatroniCluster(sync=True)
    yield cluster
    if getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed:
        print(cluster.logs())  # what Patroni and etcd said, for a failed run
    cluster.remove()


def test_patroni_promotes_the_synchronous_replica_and_nothing_acknowledged_is_lost(tmp_path, patroni):
    patroni.start_etcd()
    patroni.start_member("m1")
    patroni.wait(lambda: patroni.leader() == "m1", "m1 as leader", timeout=180)
    patroni.start_member("m2")
    patroni.wait(patroni.sync_standby_ready, "a synchronous replica", timeout=120)
    with psycopg.connect(f"postgres://postgres@127.0.0.1:{patroni.pg_port('m1')}/postgres", autocommit=True) as conn:
        conn.execute('CREATE DATABASE "ipam"')

    envs = [instance_env(patroni.url("ipam"), tmp_path) for _ in range(2)]  # a metrics directory each
    env = envs[0]
    token = prepare_database(env)
    instances = [start_instance(e, tmp_path / f"gunicorn-{n}.log") for n, e in enumerate(envs)]
    try:
        load = LoadRun(
            servers=[i.base for i in instances], token=token, threads=16, ops=60, workloads=8, max_attempts=200
        )
        runner = load.start()
        load.wait_for_ops(200)
        killed_at = time.monotonic()
        patroni.kill_member("m1")
        patroni.wait(lambda: patroni.leader() == "m2", "m2 promoted", timeout=90)
        promoted_seen_at = time.monotonic()
        runner.join(240)
        assert not runner.is_alive(), "the load did not finish"
        print(load.summary())

        assert_only_unavailable_or_definite(load)
        assert load.done_ops == load.threads * load.ops
        first_ok = min(c.end for c in load.calls if c.start >= killed_at and c.code == 0)
        bound = bound_pairs(env)
        assert load.lost_or_leaked(bound) == []  # synchronous_mode: nothing acknowledged is lost
        assert load.double_holdings() == []
        check = manage(env, "check_consistency", check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        counted = [failovers_counted(i) for i in instances]
        assert all(n >= 1 for n in counted), counted
        figures(
            "patroni-sync",
            seconds_kill_to_leader_seen=round(promoted_seen_at - killed_at, 2),
            seconds_kill_to_first_code_0=round(first_ok - killed_at, 2),
            seconds_leader_seen_to_first_code_0=round(first_ok - promoted_seen_at, 3),
            answers_code_50=len(load.answered(50)),
            acknowledged_bindings_lost=0,
            failovers_counted=counted,
        )
    finally:
        for instance in instances:
            instance.stop()
