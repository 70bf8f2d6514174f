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


def before_reshape() -> list[tuple]:
    """The migration state of the day before the audit log became its own app: pools as audit 0001
    found it, leases as it is, no audit app."""
    graph = MigrationExecutor(connection).loader.graph
    (pools_before,) = [
        parent.key for parent in graph.node_map[("audit", AUDIT_FIRST)].parents if parent.key[0] == "pools"
    ]
    (leases_leaf,) = [node for node in graph.leaf_nodes() if node[0] == "leases"]
    return [pools_before, leases_leaf, ("audit", None)]


AUDIT_FIRST = "0001_auditevent_moves_from_pools"
RESHAPE_MOVES_ONLY = {"django_content_type", "django_migrations"}


def table_rows() -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order."""
    quote = connection.ops.quote_name
    return {
        table: rows(f"SELECT * FROM {quote(table)} ORDER BY 1")
        for table in connection.introspection.table_names()
        if table not in RESHAPE_MOVES_ONLY
    }


def test_an_existing_database_keeps_every_row_when_the_audit_log_moves_to_its_own_app():
    """The schema of the day before the reshape (the audit log in pools), with a row in each table,
    upgrades in place: no row changes, and the log's content type (so its permissions and the
    console's history) follows the model to the audit app."""
    day_before = before_reshape()
    migrate_to(day_before)
    loader = MigrationExecutor(connection).loader
    others = [node for node in loader.graph.leaf_nodes() if node[0] not in {"pools", "leases", "audit"}]
    old = loader.project_state([*day_before[:2], *others]).apps
    model = old.get_model
    now = timezone.now()
    content_types = model("contenttypes", "ContentType").objects
    content_types.filter(app_label="audit").delete()  # as on a database that never had the app
    event_type, _ = content_types.get_or_create(app_label="pools", model="auditevent")
    model("auth", "Permission").objects.create(
        content_type=event_type, codename="reshape_probe_auditevent", name="probe"
    )
    user = model("auth", "User").objects.create(username="ops", password="!", date_joined=now)
    model("admin", "LogEntry").objects.create(
        user=user, content_type=event_type, object_id="1", object_repr="event", action_flag=2, action_time=now
    )
    cluster = model("pools", "Cluster").objects.create(cluster_id="c1")
    model("pools", "ApiToken").objects.create(key_hash="0" * 64, prefix="abc", cluster=cluster)
    subnet = model("pools", "Subnet").objects.create(
        net_regional_id="r", subnet_id="s", cidr="10.0.3.0/24", gateway="10.0.3.1", ip_version=4
    )
    model("pools", "SubnetExclusion").objects.create(subnet=subnet, first_ip="10.0.3.9", last_ip="10.0.3.9")
    model("pools", "SubnetGrant").objects.create(subnet=subnet, cluster=cluster, quota=5)
    pool = model("pools", "Pool").objects.create(
        k8s_cluster_id="c1", namespace="default", kind=0, name="web", subnet=subnet, target=1, reserved_count=1
    )
    address = model("pools", "Address").objects.create(
        subnet=subnet, net_regional_id="r", pool=pool, ip="10.0.3.10", ip_key="0a00030a", mac="02:00:00:00:00:0a",
        reserved_at=now,
    )  # fmt: skip
    model("leases", "Lease").objects.create(address=address, pool=pool, pod_id="pod-1", bound_at=now)
    model("leases", "ReconcileRun").objects.create(k8s_cluster_id="c1", started_at=now, report={"k": 1})
    model("pools", "AuditEvent").objects.create(
        at=now, req_type=3, req_id="r-1", k8s_cluster_id="c1", pod_id="pod-1", ip="10.0.3.10", code=0, actor="t",
        detail={"why": "kept"},
    )  # fmt: skip
    before = table_rows()
    assert all(before[table] for table in ("pools_auditevent", "leases_lease", "pools_address", "django_admin_log"))

    call_command("migrate", verbosity=0)

    assert table_rows() == before
    from django.contrib.admin.models import LogEntry
    from django.contrib.auth.models import Permission

    from audit.models import AuditEvent

    assert AuditEvent.objects.get().detail == {"why": "kept"}
    moved = Permission.objects.get(codename="reshape_probe_auditevent").content_type
    assert (moved.app_label, moved.model_class()) == ("audit", AuditEvent)
    assert LogEntry.objects.get(object_repr="event").content_type == moved
    migrate_to(day_before)  # and back: the model returns to pools, the rows stay
    assert table_rows() == before
    call_command("migrate", verbosity=0)
