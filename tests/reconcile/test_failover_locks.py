"""Repairing what a failover lost, against other instances serving the API at the same moment:
--apply restores a lost binding only once it holds the address's row, and re-creates a lost pool
only if no create of the workload won the race. Real PostgreSQL connections, one per thread."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections, transaction

from audit.models import AuditEvent
from core.choices import Kind, ReqType
from core.domain import COMMAND_LINE, CallContext, Workload
from leases import services as leases
from leases.reconcile.cluster import read_from_json
from leases.reconcile.compare import plan_changes
from leases.reconcile.run import Options, finish_run, start_run
from pools import services
from pools.models import Address, Pool
from tests.support.api import GATEWAY, REGION, SUBNET, V1, holder
from tests.support.kube import job, pod
from tests.support.reconcile import HANG_GUARD_S, age, bind, wait_for_a_lock_wait
from tests.support.reconcile_failover import cluster, lose_binding, web

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def reconciling(run, plan, options):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")  # wait as long as the other instance holds it
        return finish_run(run, plan, options)
    finally:
        connections.close_all()


def test_a_restore_waits_for_a_binder_holding_the_address_then_leaves_it_to_the_new_pod(
    cluster_token, subnet, tmp_path
):
    ips = bind(V1(cluster_token), ["pod-a", "pod-b", "pod-c"])
    age()
    lose_binding(ips["pod-a"])
    options = Options(cluster_id="c1", apply=True)
    run = start_run(options)
    plan = plan_changes(cluster_id="c1", snapshot=read_from_json(cluster(tmp_path, *web(ips))), grace_seconds=300)
    assert [f.pod_id for f in plan.lost] == ["pod-a"]
    address_pk = Address.objects.get(ip=ips["pod-a"]).pk
    locked, go = threading.Event(), threading.Event()

    def another_instance():
        """A require in flight: it holds the idle address's row, then binds it to a new pod."""
        try:
            with transaction.atomic():
                Address.objects.select_for_update().get(pk=address_pk)
                locked.set()
                assert go.wait(HANG_GUARD_S)
                ctx = CallContext(actor=COMMAND_LINE, req_type=ReqType.REQUIRE_IP)
                return leases.ip_require(ctx=ctx, workload=Workload("c1", "default", 0, "web"), pod_id="pod-new").ip
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as threads:
        holding = threads.submit(another_instance)
        assert locked.wait(HANG_GUARD_S)
        repairing = threads.submit(reconciling, run, plan, options)
        wait_for_a_lock_wait()
        go.set()
        new_ip = holding.result()
        outcome = repairing.result()

    assert new_ip == ips["pod-a"] and holder(ips["pod-a"]) == "pod-new"
    (finding,) = [f for f in outcome.findings if f.what == "lost-binding"]
    assert finding.action.startswith(f"skipped: {ips['pod-a']} is bound to pod pod-new"), finding.action
    run.refresh_from_db()
    assert (run.bindings_restored, run.report["changes_skipped"]) == (0, 1)


def test_a_lost_pool_recreate_loses_the_race_to_the_webhooks_create_and_changes_nothing(
    cluster_token, subnet, tmp_path
):
    bind(V1(cluster_token), ["keep"], name="web")
    age()
    batch = job("batch", parallelism=2)
    path = cluster(tmp_path, *web({"keep": ""}, replicas=1), batch, pod("job-1", owner=batch, ip="10.0.3.77"))
    options = Options(cluster_id="c1", apply=True, recreate_pools=True)
    run = start_run(options)
    plan = plan_changes(cluster_id="c1", snapshot=read_from_json(path), grace_seconds=300, recreate_pools=True)
    assert [(f.what, f.target) for f in plan.lost_pools] == [("lost-pool", 2)]
    workload = Workload("c1", "default", Kind.JOB, "batch")
    created, go = threading.Event(), threading.Event()

    def webhook():
        """The webhook's CreateIPPool of the workload, not yet committed when the repair starts."""
        try:
            with transaction.atomic():
                ctx = CallContext(actor=COMMAND_LINE, req_type=ReqType.CREATE_IP_POOL)
                services.pool_create(
                    ctx=ctx, workload=workload, replicas=2, net_regional_id=REGION, subnet_id=SUBNET, gateway=GATEWAY
                )
                created.set()
                assert go.wait(HANG_GUARD_S)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as threads:
        creating = threads.submit(webhook)
        assert created.wait(HANG_GUARD_S)
        repairing = threads.submit(reconciling, run, plan, options)
        wait_for_a_lock_wait()  # the repair's insert waits on the unique index of active pools
        go.set()
        creating.result()
        outcome = repairing.result()

    (finding,) = [f for f in outcome.findings if f.what == "lost-pool"]
    assert finding.action.startswith("skipped: workload") and "has an active pool by now" in finding.action
    (pool,) = Pool.objects.active().filter(name="batch")
    assert pool.reserved_count == 2 and not pool.leases.exists()
    assert not AuditEvent.objects.filter(req_id=f"reconcile-{run.pk}").exists()
