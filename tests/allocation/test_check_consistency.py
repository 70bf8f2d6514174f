"""`manage.py check_consistency`: passes on what the API leaves behind, catches each corruption.

Each corruption is written with raw SQL (dropping the constraint that would refuse it first), as
a bug, a manual edit or a restored backup might leave the database."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from core import addressing
from core.choices import AdminAction
from pools import services
from pools.models import Address, Pool
from tests.support.api import command_ctx, make_subnet

SUBNET_B = "subnet-b"


def run_check() -> tuple[bool, str]:
    out = io.StringIO()
    try:
        call_command("check_consistency", stdout=out)
    except CommandError as exc:
        return False, out.getvalue() + str(exc)
    return True, out.getvalue()


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def drop_constraint(name: str, *, table: str = "pools_address", index: bool = False) -> None:
    """Drop a guard for the rest of this test (the test's transaction puts it back)."""
    if connection.vendor == "postgresql":
        sql("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks may block the DDL
        sql(f"DROP INDEX {name}" if index else f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    elif index:
        sql(f"DROP INDEX {name}")
    else:
        sql("PRAGMA ignore_check_constraints = ON")  # per connection, not transactional


@pytest.fixture(autouse=True)
def _check_constraints_back_on(db):
    yield
    if connection.vendor == "sqlite":
        sql("PRAGMA ignore_check_constraints = OFF")


@pytest.fixture
def world(v1):
    """Two subnets of one region, pools with bound and idle addresses: a clean database."""
    make_subnet(SUBNET_B, "10.0.4.0/24", "10.0.4.1", exclusions=["10.0.4.2-10.0.4.20"])
    assert v1.create_pool(3).json()["Code"] == 0
    bound = v1.require("pod-1").json()["IP"]
    assert v1.create_pool(2, subnet_id=SUBNET_B, gateway="10.0.4.1", name="api").json()["Code"] == 0
    web = Pool.objects.get(name="web")
    idle = Address.objects.filter(pool=web, lease__isnull=True).first()
    other = Address.objects.filter(pool__name="api").first()
    return {"web": web, "bound": Address.objects.get(ip=bound), "idle": idle, "other": other}


def set_address(address: Address, **columns) -> None:
    assignments = ", ".join(f"{column} = %s" for column in columns)
    sql(f"UPDATE pools_address SET {assignments} WHERE id = %s", [*columns.values(), address.pk])


def test_clean_database_after_every_kind_of_call_passes(v1):
    make_subnet(SUBNET_B, "10.0.4.0/24", "10.0.4.1")
    assert v1.create_pool(3).json()["Code"] == 0
    pods = [f"web-{i}" for i in range(4)]
    for pod in pods:  # the fourth takes the surge address
        assert v1.require(pod).json()["Code"] == 0
    assert v1.scale_pool(1).json()["Code"] == 0  # four bound addresses beyond a target of 1
    assert v1.release(pods[3]).json()["Code"] == 0  # goes back to the subnet
    assert v1.create_pool(2, kind=1, name="db").json()["Code"] == 0
    assert v1.require("db-0", kind=1, name="db").json()["Code"] == 0
    assert v1.release_pool(kind=1, name="db").json()["Code"] == 0  # db-0 keeps its address
    assert v1.create_pool(0, kind=2, name="job", subnet_id=SUBNET_B, gateway="10.0.4.1").json()["Code"] == 0
    assert v1.require("job-0", kind=2, name="job").json()["Code"] == 0  # surge of a zero target
    assert v1.create_pool(2, name="gone").json()["Code"] == 0
    assert v1.release_pool(name="gone").json()["Code"] == 0  # a released pool with no address left
    ok, out = run_check()
    assert ok, out
    assert "consistent" in out


def test_address_reserved_twice_is_reported(world):
    ip = world["bound"].ip
    set_address(world["other"], ip=ip, ip_key=addressing.ip_key(addressing.parse_ip(ip)))
    ok, out = run_check()
    assert not ok
    assert f"address_reserved_twice: {ip} in region" in out


def drop_lease_uniqueness() -> None:
    """Let a pod hold two leases in one pool for the rest of this test."""
    if connection.vendor == "postgresql":
        drop_constraint("one_address_per_pod_per_pool", table="leases_lease")
    else:  # SQLite cannot drop a table constraint: copy the table without it (DDL is transactional)
        sql("ALTER TABLE leases_lease RENAME TO leases_lease_guarded")
        sql("CREATE TABLE leases_lease AS SELECT * FROM leases_lease_guarded")


def add_lease(address: Address, pod_id: str) -> None:
    sql(
        "INSERT INTO leases_lease (address_id, pool_id, pod_id, k8s_resource_id, bound_at) VALUES (%s, %s, %s, '', %s)",
        [address.pk, address.pool_id, pod_id, timezone.now()],
    )
    set_address(address, idle_since=None)


def test_pod_bound_twice_in_one_pool_is_reported(world):
    drop_lease_uniqueness()
    add_lease(world["idle"], "pod-1")
    ok, out = run_check()
    assert not ok
    assert "pod_bound_twice_in_pool: pod pod-1" in out


def test_address_both_bound_and_idle_is_reported(world):
    set_address(world["bound"], idle_since=timezone.now())
    ok, out = run_check()
    assert not ok
    assert f"address_bound_and_idle: {world['bound'].ip}" in out


def test_address_in_another_region_than_its_subnet_is_reported(world):
    set_address(world["idle"], net_regional_id="elsewhere")
    ok, out = run_check()
    assert not ok
    assert f"address_subnet_mismatch: {world['idle'].ip}" in out


@pytest.mark.parametrize(
    "ip",
    ["10.0.9.9", "10.0.3.0", "10.0.3.255", "10.0.3.1"],
    ids=["outside-cidr", "network", "broadcast", "gateway"],
)
def test_address_outside_usable_range_is_reported(world, ip):
    set_address(world["idle"], ip=ip, ip_key=addressing.ip_key(addressing.parse_ip(ip)))
    ok, out = run_check()
    assert not ok
    assert f"address_outside_subnet: {ip}" in out


def test_excluded_address_is_reported(world):
    set_address(world["other"], ip="10.0.4.15", ip_key=addressing.ip_key(addressing.parse_ip("10.0.4.15")))
    ok, out = run_check()
    assert not ok
    assert "address_outside_subnet: 10.0.4.15" in out


def test_ip_text_and_key_that_disagree_are_reported(world):
    ip = world["idle"].ip
    set_address(world["idle"], ip_key=addressing.ip_key(int(addressing.parse_ip(ip)) + 100))
    ok, out = run_check()
    assert not ok
    assert f"address_ip_key_mismatch: {ip}" in out


def test_mac_reused_in_one_region_is_reported(world):
    # The unique constraint keys on the address's copy of the region; a wrong copy slips past it.
    mac = world["bound"].mac
    set_address(world["other"], mac=mac, net_regional_id="stale-copy")
    ok, out = run_check()
    assert not ok
    assert f"mac_reused_in_region: MAC {mac} is used by 2 addresses in region region-1" in out


@pytest.mark.parametrize("mac", ["AA:00:00:00:00:01", "00:11:22:33:44:55", "03:00:00:00:00:01", "02-00-00-00-00-01"])
def test_malformed_mac_is_reported(world, mac):
    set_address(world["idle"], mac=mac)
    ok, out = run_check()
    assert not ok
    assert f"mac_malformed: {world['idle'].ip}" in out


def test_reserved_count_that_disagrees_with_rows_is_reported(world):
    sql("UPDATE pools_pool SET reserved_count = reserved_count + 1 WHERE id = %s", [world["web"].pk])
    ok, out = run_check()
    assert not ok
    assert f"pool_count_mismatch: pool {world['web'].pk} says it reserves 4 addresses but has 3" in out


def test_active_pool_short_of_its_target_passes(world):
    """What an operator's return of an idle address leaves until the next create or scale."""
    sql("DELETE FROM pools_address WHERE id = %s", [world["idle"].pk])
    sql("UPDATE pools_pool SET reserved_count = reserved_count - 1 WHERE id = %s", [world["web"].pk])
    ok, out = run_check()
    assert ok, out


def test_idle_address_beyond_the_target_is_reported(world):
    sql("UPDATE pools_pool SET target = 1 WHERE id = %s", [world["web"].pk])
    ok, out = run_check()
    assert not ok
    assert f"pool_idle_beyond_target: active pool {world['web'].pk} holds 3 addresses for target 1" in out


def test_bound_addresses_beyond_a_lowered_target_pass(world, v1):
    assert v1.require("pod-2").json()["Code"] == 0
    assert v1.require("pod-3").json()["Code"] == 0
    assert v1.scale_pool(1).json()["Code"] == 0
    assert Pool.objects.get(pk=world["web"].pk).reserved_count == 3
    ok, out = run_check()
    assert ok, out


def test_released_pool_holding_idle_addresses_is_reported(world):
    sql(
        "UPDATE pools_pool SET state = 'released', released_at = %s WHERE id = %s",
        [timezone.now(), world["web"].pk],
    )
    ok, out = run_check()
    assert not ok
    assert f"released_pool_holds_idle: released pool {world['web'].pk} still holds 2 idle addresses" in out


def test_released_pool_holding_idle_addresses_is_legal_with_a_grace(world):
    sql(
        "UPDATE pools_pool SET state = 'released', released_at = %s WHERE id = %s",
        [timezone.now(), world["web"].pk],
    )
    with override_settings(IPRESMGR_RELEASE_GRACE_SECONDS=60):
        ok, out = run_check()
    assert ok, out


def test_pool_state_and_release_time_that_disagree_are_reported(world):
    drop_constraint("pool_released_has_time", table="pools_pool")
    sql("UPDATE pools_pool SET released_at = %s WHERE id = %s", [timezone.now(), world["web"].pk])
    ok, out = run_check()
    assert not ok
    assert f"pool_state: pool {world['web'].pk} has state 'active'" in out


def test_two_active_pools_for_one_workload_are_reported(world):
    drop_constraint("one_active_pool_per_workload", index=True)
    sql("UPDATE pools_pool SET name = 'web' WHERE name = 'api'")
    ok, out = run_check()
    assert not ok
    assert "pool_state: workload c1/default/0/web has 2 active pools" in out


def test_binding_without_its_require_event_is_reported(world):
    ip = world["bound"].ip
    sql("DELETE FROM pools_auditevent WHERE req_type = 3 AND ip = %s", [ip])
    ok, out = run_check()
    assert not ok
    assert f"binding_not_audited: {ip}" in out


def test_binding_to_a_pod_that_was_never_given_the_address_is_reported(world):
    sql("UPDATE leases_lease SET pod_id = 'intruder' WHERE address_id = %s", [world["bound"].pk])
    ok, out = run_check()
    assert not ok
    assert f"binding_not_audited: {world['bound'].ip} (address {world['bound'].pk}, pool {world['web'].pk}) " in out


def test_released_pool_past_grace_gives_idle_addresses_back_on_next_reservation(v1):
    """The lazy purge runs inside every reservation (it once failed on PostgreSQL)."""
    with override_settings(IPRESMGR_RELEASE_GRACE_SECONDS=60):
        assert v1.create_pool(3).json()["Code"] == 0
        assert v1.release_pool().json()["Code"] == 0
        old = Pool.objects.get(name="web")
        assert old.reserved_count == 3  # kept for the grace
        Pool.objects.filter(pk=old.pk).update(released_at=timezone.now() - timedelta(seconds=120))
        created = v1.create_pool(2, name="next")
        assert created.status_code == 200, created.json()
        assert Address.objects.filter(pool=old).count() == 0
        assert Pool.objects.get(pk=old.pk).reserved_count == 0
        ok, out = run_check()
    assert ok, out


def test_an_open_subnet_with_grants_is_reported(cluster_token):
    subnet = make_subnet()
    services.subnet_grant(ctx=command_ctx(AdminAction.SUBNET_GRANT), subnet=subnet, cluster_id="c1")
    assert run_check()[0]
    sql("UPDATE pools_subnet SET open_without_grants = %s", [True])
    ok, out = run_check()
    assert not ok and "subnet subnet-a is open to every cluster although it grants some" in out
