"""The invariants about who holds an address, run with the reservations' (pools.consistency) by
`manage.py check_consistency`.

A lease and its address's place in the idle queue are written together; these checks find any
address where they disagree, and bindings the audit log cannot account for."""

from __future__ import annotations

from core.choices import AdminAction, Code, ReqType
from core.tables import quote_tables
from leases.models import Lease
from pools import consistency
from pools.consistency import Check, Violation, check, reservation_tables, sql_rows

LEASE_CHECKS: list[Check] = []


def lease_rows(cursor, sql: str, params=()) -> list[tuple]:
    return sql_rows(cursor, sql, params, tables={**reservation_tables(), **quote_tables(lease=Lease)})


@check("pod_bound_twice_in_pool", into=LEASE_CHECKS)
def _bound_twice(cursor):
    for pool_id, pod_id, addresses in lease_rows(
        cursor,
        """
        SELECT pool_id, pod_id, MIN(address_id) || ',' || MAX(address_id) FROM {lease}
        GROUP BY pool_id, pod_id HAVING COUNT(*) > 1
        """,
    ):
        yield f"pod {pod_id} is bound to several addresses of pool {pool_id} (addresses {addresses})"


@check("address_bound_and_idle", into=LEASE_CHECKS)
def _bound_xor_idle(cursor):
    """In use (no idle_since) if and only if a lease holds it."""
    for address_id, ip, pod_id in lease_rows(
        cursor,
        """
        SELECT a.id, a.ip, l.pod_id FROM {address} a LEFT JOIN {lease} l ON l.address_id = a.id
        WHERE (l.address_id IS NULL AND a.idle_since IS NULL)
           OR (l.address_id IS NOT NULL AND (a.idle_since IS NOT NULL OR l.pod_id = ''))
        """,
    ):
        yield f"{ip} (address {address_id}, pod {pod_id!r}) is not exactly one of bound or idle"


@check("lease_pool_mismatch", into=LEASE_CHECKS)
def _lease_pool_mismatch(cursor):
    for address_id, ip, lease_pool, address_pool in lease_rows(
        cursor,
        """
        SELECT a.id, a.ip, l.pool_id, a.pool_id FROM {lease} l JOIN {address} a ON a.id = l.address_id
        WHERE l.pool_id <> a.pool_id
        """,
    ):
        yield f"{ip} (address {address_id}) is leased in pool {lease_pool} but reserved by pool {address_pool}"


@check("binding_not_audited", into=LEASE_CHECKS)
def _binding_not_audited(cursor):
    """The latest successful RequireIP for the address (same IP, same SubnetID), or reconcile's
    restore of a binding a failover lost, names the pod and the workload that hold it now. While a
    pod holds an address no other pod can be given it, so any later event for another pod would
    itself be a double binding."""
    for address_id, ip, pod_id, pool_id in lease_rows(
        cursor,
        """
        SELECT a.id, a.ip, l.pod_id, a.pool_id
        FROM {lease} l JOIN {address} a ON a.id = l.address_id
        JOIN {pool} p ON p.id = a.pool_id JOIN {subnet} s ON s.id = a.subnet_id
        WHERE NOT EXISTS (
            SELECT 1 FROM {event} e
            WHERE e.id = (
                SELECT MAX(e2.id) FROM {event} e2
                WHERE e2.ip = a.ip AND e2.subnet_id = s.subnet_id AND e2.code = %s
                AND (e2.req_type = %s OR e2.admin_action = %s)
            )
            AND e.pod_id = l.pod_id AND e.k8s_cluster_id = p.k8s_cluster_id AND e.namespace = p.namespace
            AND e.kind = p.kind AND e.name = p.name
        )
        """,
        [Code.SUCCESS, ReqType.REQUIRE_IP, AdminAction.BINDING_RESTORE],
    ):
        yield (
            f"{ip} (address {address_id}, pool {pool_id}) is bound to pod {pod_id}, but the last successful "
            "RequireIP (or reconcile's restore) for it does not name that pod and workload"
        )


# Every check, the reservations' (pools.consistency) and these: what `manage.py check_consistency` runs.
EVERY_CHECK = [*consistency.CHECKS, *LEASE_CHECKS]


def find_violations() -> list[Violation]:
    """Every invariant of SPEC.md, in one read-only snapshot of the database."""
    return consistency.find_violations(EVERY_CHECK)
