"""Migrations carry an existing database's bindings across the move of the binding to leases.Lease,
and back again."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_SPLIT = [("pools", "0002_address_ordering_without_join"), ("leases", None)]


def migrate_to(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_bindings_move_to_leases_and_back():
    migrate_to(BEFORE_SPLIT)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO pools_subnet (net_regional_id, subnet_id, cidr, gateway, ip_version, alloc_cursor, created_at)"
            " VALUES ('r', 's', '10.0.3.0/24', '10.0.3.1', 4, '', %s)",
            [now],
        )
        cursor.execute(
            "INSERT INTO pools_pool (k8s_cluster_id, namespace, kind, name, subnet_id, target, reserved_count, state,"
            " created_at, updated_at) SELECT 'c1', 'default', 0, 'web', id, 2, 2, 'active', %s, %s FROM pools_subnet",
            [now, now],
        )
        for n, pod in ((10, "pod-1"), (11, None)):
            cursor.execute(
                "INSERT INTO pools_address (subnet_id, net_regional_id, pool_id, ip, ip_key, mac, port_id, pod_id,"
                " k8s_resource_id, reserved_at, bound_at, idle_since)"
                " SELECT s.id, 'r', p.id, %s, %s, %s, %s, %s, %s, %s, %s, %s FROM pools_subnet s, pools_pool p",
                [
                    f"10.0.3.{n}",
                    format(0x0A000300 + n, "032x"),
                    f"02:00:00:00:00:{n:02x}",
                    f"00000000-0000-0000-0000-0000000000{n}",
                    pod,
                    "rid-1" if pod else "",
                    now,
                    now if pod else None,
                    None if pod else now,
                ],
            )
    migrate_to(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert rows(
        "SELECT a.ip, l.pod_id, l.k8s_resource_id FROM leases_lease l JOIN pools_address a ON a.id = l.address_id"
    ) == [("10.0.3.10", "pod-1", "rid-1")]
    assert rows("SELECT ip FROM pools_address WHERE idle_since IS NULL") == [("10.0.3.10",)]

    migrate_to(BEFORE_SPLIT)
    assert rows("SELECT ip, pod_id, k8s_resource_id FROM pools_address ORDER BY ip") == [
        ("10.0.3.10", "pod-1", "rid-1"),
        ("10.0.3.11", None, ""),
    ]
    call_command("migrate", verbosity=0)  # leave the test database as the other tests expect it


BEFORE_GRANTS = [("pools", "0004_address_binding_columns_move_to_leases")]


def test_subnets_registered_before_grants_stay_open_and_the_migration_goes_back():
    migrate_to(BEFORE_GRANTS)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO pools_subnet (net_regional_id, subnet_id, cidr, gateway, ip_version, alloc_cursor, created_at)"
            " VALUES ('r', 's', '10.0.3.0/24', '10.0.3.1', 4, '', %s)",
            [timezone.now()],
        )
    migrate_to(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert rows("SELECT subnet_id, open_without_grants FROM pools_subnet") == [("s", True)]
    assert rows("SELECT COUNT(*) FROM pools_subnetgrant") == [(0,)]
    migrate_to(BEFORE_GRANTS)
    assert rows("SELECT subnet_id FROM pools_subnet") == [("s",)]
    call_command("migrate", verbosity=0)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="storage parameters are PostgreSQL's")
def test_the_hot_tables_are_vacuumed_after_a_fixed_number_of_changes_and_the_migration_reverses():
    def reloptions() -> dict[str, list[str] | None]:
        return dict(rows("SELECT relname, reloptions FROM pg_class WHERE relname IN ('pools_address', 'leases_lease')"))

    for options in reloptions().values():
        assert "autovacuum_vacuum_scale_factor=0" in options and "autovacuum_vacuum_threshold=2000" in options
    migrate_to([("leases", "0002_reconcile_runs")])
    try:
        assert reloptions() == {"pools_address": None, "leases_lease": None}
    finally:
        call_command("migrate", verbosity=0)
    assert all("autovacuum_analyze_scale_factor=0.02" in options for options in reloptions().values())
