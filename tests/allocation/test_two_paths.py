"""The binding rules exist twice: as PostgreSQL's one statement (leases.services, the common cases)
and as ORM code (the general path, which SQLite and every other case take). Each scenario below runs
through both on PostgreSQL (IPRESMGR_ONE_STATEMENT_PATHS on, then off) from the same starting
database, and the caller's answer, the bindings, the idle queue, the pools and the audit events must
come out the same, so that the two cannot drift: which idle address is bound first, whether a pool
keeps a freed address, which workload's pool a call reaches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from leases.models import Lease
from pools.models import Address, Pool
from tests.support.api import V1

pytestmark = pytest.mark.postgres_only


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def idle_since(ip: str, seconds_ago: int) -> None:
    sql("UPDATE pools_address SET idle_since = %s WHERE ip = %s", [timezone.now() - timedelta(seconds=seconds_ago), ip])
    assert Address.objects.get(ip=ip).idle_since is not None


def ips_of(name="web", namespace="default", kind=0) -> list[str]:
    return list(
        Address.objects.filter(pool__name=name, pool__namespace=namespace, pool__kind=kind)
        .order_by("ip_key")
        .values_list("ip", flat=True)
    )


def call_ok(response) -> dict:
    assert response.json()["Code"] == 0, response.json()
    return response.json()


@dataclass(frozen=True)
class Scenario:
    name: str
    setup: Callable[[V1], None]
    call: Callable[[V1], object]
    sql_decides: bool  # the one statement answers on its own (else it hands over to the general path)
    grace: int = 0


# Setups ----------------------------------------------------------------------------------------------


def three_idle_the_last_idle_longest(v1):
    call_ok(v1.create_pool(3))
    first, second, third = ips_of()
    idle_since(first, 10)
    idle_since(second, 20)
    idle_since(third, 30)


def three_idle_at_the_same_time(v1):
    call_ok(v1.create_pool(3))
    sql("UPDATE pools_address SET idle_since = %s", [timezone.now() - timedelta(seconds=5)])


def decoys_idle_longer(v1):
    """Pools of workloads that differ from web/default/Deployment in one part each, and a released
    pool of web itself, all with addresses idle far longer than web's."""
    call_ok(v1.create_pool(1, name="web", namespace="other"))
    call_ok(v1.create_pool(1, name="web", kind=1))
    call_ok(v1.create_pool(1, name="web-2"))
    call_ok(v1.create_pool(1, name="web"))
    call_ok(v1.release_pool(name="web"))
    sql("UPDATE pools_address SET idle_since = %s", [timezone.now() - timedelta(hours=1)])
    call_ok(v1.create_pool(1, name="web"))


def one_bound(v1):
    call_ok(v1.create_pool(2))
    call_ok(v1.require("pod-1"))


def one_bound_of_one(v1):
    call_ok(v1.create_pool(1))
    call_ok(v1.require("pod-1"))


def full_statefulset(v1):
    call_ok(v1.create_pool(1, kind=1))
    call_ok(v1.require("pod-1", kind=1))


def surged(v1):
    call_ok(v1.create_pool(1))
    call_ok(v1.require("pod-1"))
    call_ok(v1.require("pod-2"))  # no idle address: a surge address, the pool above its target


def released_while_bound(v1):
    call_ok(v1.create_pool(1))
    call_ok(v1.require("pod-1"))
    call_ok(v1.release_pool())


def released_past_grace(v1):
    released_while_bound(v1)
    sql("UPDATE pools_pool SET released_at = %s", [timezone.now() - timedelta(seconds=400)])


def only_released(v1):
    call_ok(v1.create_pool(1))
    call_ok(v1.release_pool())


def same_pod_in_two_workloads(v1):
    call_ok(v1.create_pool(1))
    call_ok(v1.create_pool(1, name="api"))
    call_ok(v1.require("pod-1"))
    call_ok(v1.require("pod-1", name="api"))


def nothing(v1):
    call_ok(v1.create_pool(1))


def bound_ip(pod: str = "pod-1") -> str:
    return Lease.objects.select_related("address").get(pod_id=pod, pool__name="web").address.ip


SCENARIOS = [
    # Idle order: idle longest first, then the lower id.
    Scenario(
        "require binds the address idle longest", three_idle_the_last_idle_longest, lambda v1: v1.require("p"), True
    ),
    Scenario("require breaks an idle tie by id", three_idle_at_the_same_time, lambda v1: v1.require("p"), True),
    # Workload match: the exact workload's active pool, never a look-alike's nor its released pool.
    Scenario("require reaches only the workload's active pool", decoys_idle_longer, lambda v1: v1.require("p"), True),
    Scenario("require of a retried pod answers what it holds", one_bound, lambda v1: v1.require("pod-1"), True),
    Scenario("require with only a released pool is 20", only_released, lambda v1: v1.require("p"), True),
    Scenario("require with nothing idle surges", one_bound_of_one, lambda v1: v1.require("pod-2"), False),
    Scenario("require with no surge left is 30", full_statefulset, lambda v1: v1.require("pod-2", kind=1), True),
    # Does the pool keep a freed address?
    Scenario("release at the target keeps the address idle", one_bound, lambda v1: v1.release("pod-1"), True),
    Scenario("release by IP at the target keeps it idle", one_bound, lambda v1: v1.release("pod-1", bound_ip()), True),
    Scenario("release above the target returns it to the subnet", surged, lambda v1: v1.release("pod-2"), False),
    Scenario(
        "release in a released pool within its grace keeps it idle",
        released_while_bound,
        lambda v1: v1.release("pod-1"),
        True,
        grace=300,
    ),
    Scenario(
        "release in a released pool past its grace returns it",
        released_past_grace,
        lambda v1: v1.release("pod-1"),
        False,
        grace=300,
    ),
    Scenario(
        "release in a released pool without grace returns it",
        released_while_bound,
        lambda v1: v1.release("pod-1"),
        False,
    ),
    Scenario("release of a pod holding nothing is audited", nothing, lambda v1: v1.release("pod-9"), True),
    Scenario("release of another pod's IP is 31", one_bound, lambda v1: v1.release("pod-2", bound_ip("pod-1")), False),
    Scenario(
        "release reaches only the workload's pools", same_pod_in_two_workloads, lambda v1: v1.release("pod-1"), True
    ),
]


# Running one scenario down one path -------------------------------------------------------------------


def workload_of(pool: Pool) -> tuple:
    return (pool.namespace, pool.kind, pool.name, pool.state)


def database_state() -> dict:
    return {
        "pools": sorted((*workload_of(p), p.target, p.reserved_count) for p in Pool.objects.all()),
        "bound": sorted(
            (*workload_of(lease.pool), lease.address.ip, lease.pod_id)
            for lease in Lease.objects.select_related("pool", "address")
        ),
        # The idle queue in the order the next requires would take it.
        "idle": [
            (*workload_of(a.pool), a.ip)
            for a in Address.objects.filter(idle_since__isnull=False)
            .select_related("pool")
            .order_by("idle_since", "id")
        ],
    }


def outcome(scenario: Scenario, v1: V1, settings, *, one_statement: bool) -> dict:
    """What the call answers and leaves behind, rolled back afterwards so the other path starts alike."""
    settings.IPRESMGR_RELEASE_GRACE_SECONDS = scenario.grace
    with transaction.atomic():
        settings.IPRESMGR_ONE_STATEMENT_PATHS = True  # the same setup for both runs
        scenario.setup(v1)
        settings.IPRESMGR_ONE_STATEMENT_PATHS = one_statement
        last_event = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        with CaptureQueriesContext(connection) as queries:
            answer = scenario.call(v1).json()
        statements = [q["sql"] for q in queries.captured_queries]
        events = [
            (e.req_type, e.code, e.msg, e.ip, e.subnet_id, e.pod_id, e.k8s_cluster_id, e.namespace, e.kind, e.name)
            for e in AuditEvent.objects.filter(id__gt=last_event).order_by("id")
        ]
        result = {
            "answer": {key: value for key, value in answer.items() if key not in {"MacAddr", "PortID"}},
            **database_state(),
            "events": events,
            "one statement ran": any(s.lstrip().startswith("WITH ") for s in statements),
            "general path ran": any("FOR NO KEY UPDATE" in s for s in statements),
        }
        transaction.set_rollback(True)
    return result


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_the_one_statement_and_the_general_path_agree(scenario, v1, settings):
    fast = outcome(scenario, v1, settings, one_statement=True)
    general = outcome(scenario, v1, settings, one_statement=False)

    # Each path ran as the scenario says, so that the comparison compares the two.
    assert fast["one statement ran"]
    assert fast["general path ran"] is not scenario.sql_decides
    assert not general["one statement ran"] and general["general path ran"]
    for result in (fast, general):
        del result["one statement ran"], result["general path ran"]
    assert fast == general
    assert fast["events"], "every call is audited"
