"""--apply takes the same pool lock as the API, and decides only once it holds it: while another
instance holds the lock and hands the leaked address to a new pod, the reconciler waits, then sees
the new pod and leaves it alone. Real PostgreSQL connections, one per thread."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections, transaction

from core.choices import ReqType
from core.domain import COMMAND_LINE, CallContext, Workload
from leases import services as leases
from leases.reconcile.cluster import read_from_json
from leases.reconcile.compare import plan_changes
from leases.reconcile.run import Options, finish_run, start_run
from pools import allocation
from pools.models import Pool
from tests.support.api import V1, holder
from tests.support.reconcile import HANG_GUARD_S, age, bind, cluster_file, wait_for_a_lock_wait, web

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def test_apply_waits_for_the_pool_lock_then_leaves_the_new_pods_address_alone(cluster_token, subnet, tmp_path):
    ips = bind(V1(cluster_token), ["pod-a", "pod-b", "pod-c"])
    age()
    options = Options(cluster_id="c1", apply=True)
    run = start_run(options)
    plan = plan_changes(
        cluster_id="c1", snapshot=read_from_json(cluster_file(tmp_path, *web(["pod-b", "pod-c"]))), grace_seconds=300
    )
    assert [f.pod_id for f in plan.leaked] == ["pod-a"]
    pool_pk = Pool.objects.get().pk
    locked, go = threading.Event(), threading.Event()

    def another_instance():
        """Holds the pool's lock while pod-a's CNI DEL and a new pod's ADD go through."""
        try:
            with transaction.atomic():
                allocation.lock_pool(pool_pk)
                locked.set()
                assert go.wait(HANG_GUARD_S)
                workload = Workload("c1", "default", 0, "web")
                ctx = CallContext(actor=COMMAND_LINE, req_type=ReqType.RELEASE_IP)
                leases.ip_release(ctx=ctx, workload=workload, pod_id="pod-a")
                ctx = CallContext(actor=COMMAND_LINE, req_type=ReqType.REQUIRE_IP)
                return leases.ip_require(ctx=ctx, workload=workload, pod_id="pod-new").ip
        finally:
            connections.close_all()

    def reconciler():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = 0")  # wait as long as the other instance holds it
            return finish_run(run, plan, options)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as threads:
        holding = threads.submit(another_instance)
        assert locked.wait(HANG_GUARD_S)
        reconciling = threads.submit(reconciler)
        wait_for_a_lock_wait()
        go.set()
        new_ip = holding.result()
        outcome = reconciling.result()

    assert new_ip == ips["pod-a"] and holder(ips["pod-a"]) == "pod-new"
    assert outcome.findings[0].action.startswith(f"skipped: {ips['pod-a']} was bound again (to pod pod-new")
    run.refresh_from_db()
    assert (run.bindings_freed, run.report["changes_skipped"]) == (0, 1)
