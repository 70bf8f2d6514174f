"""The invariants of SPEC.md, checked with SQL against the database as it is.

`find_violations()` runs every check in one read-only snapshot and returns the offenders;
`python manage.py check_consistency` prints them and exits non-zero. Each check is one query
(or one query per subnet), portable between SQLite and PostgreSQL. Checks here are about
reservations; leases.consistency adds the ones about who holds an address and runs both.

The size rule for pools, exactly (r = Address rows of the pool, b = bound ones (in use: no
idle_since), T = target):
- Above its target an active pool holds only bound addresses: r > T implies r == b. Surge
  reserves only when nothing is idle, a lowered target returns the idle ones beyond it at once,
  and a bound address beyond the target goes back when its pod releases it. So r may exceed
  T + surge(T), but only with bound addresses left over from a lowered target.
- r < T is not an offence: create and scale reserve T all or nothing, but an operator's hold or
  return of an idle address leaves the pool one short until its next create, scale or require.
- With no release grace, a released pool holds only bound addresses (pods outlive their
  workload). With a grace, idle addresses of released pools are legal: they wait for re-creation
  or for the lazy purge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from audit.models import AuditEvent
from core import addressing
from core.choices import PoolState
from core.tables import quote_tables
from pools.models import Address, Pool, QuarantinedAddress, Subnet, SubnetGrant


def reservation_tables() -> dict[str, str]:
    """The tables the SQL below names ({address}, {pool}, ...)."""
    return quote_tables(
        address=Address, pool=Pool, subnet=Subnet, event=AuditEvent, grant=SubnetGrant, quarantined=QuarantinedAddress
    )


MAC_PATTERN = r"^[0-9a-f][26ae](:[0-9a-f]{2}){5}$"  # lower-case, locally administered, unicast


@dataclass(frozen=True)
class Violation:
    check: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.detail}"


Check = tuple[str, Callable[..., Iterator[str]]]
CHECKS: list[Check] = []  # the reservation checks of this module; leases.consistency adds its own to them


def check(name: str, *, into: list[Check] = CHECKS):
    def register(fn):
        into.append((name, fn))
        return fn

    return register


def sql_rows(cursor, sql: str, params=(), *, tables: dict[str, str] | None = None) -> list[tuple]:
    """Run `sql` with {address}, {pool}, ... replaced by the names in `tables` (the reservations')."""
    cursor.execute(sql.format(**(tables or reservation_tables())), params)
    return cursor.fetchall()


# Addresses: reserved once, bound once, in a coherent state -------------------------------------


@check("address_reserved_twice")
def _reserved_twice(cursor):
    # By the subnet's region and the canonical IP text: two rows for one address of one network.
    for region, ip, count, pools in sql_rows(
        cursor,
        """
        SELECT s.net_regional_id, a.ip, COUNT(*), MIN(a.pool_id) || ',' || MAX(a.pool_id)
        FROM {address} a JOIN {subnet} s ON s.id = a.subnet_id
        GROUP BY s.net_regional_id, a.ip HAVING COUNT(*) > 1
        """,
    ):
        yield f"{ip} in region {region} is reserved {count} times (pools {pools})"


@check("address_subnet_mismatch")
def _subnet_mismatch(cursor):
    for address_id, ip, pool_id in sql_rows(
        cursor,
        """
        SELECT a.id, a.ip, a.pool_id FROM {address} a
        JOIN {pool} p ON p.id = a.pool_id JOIN {subnet} s ON s.id = a.subnet_id
        WHERE a.subnet_id <> p.subnet_id OR a.net_regional_id <> s.net_regional_id
        """,
    ):
        yield f"{ip} (address {address_id}) is not in the subnet or region of its pool {pool_id}"


@check("address_outside_subnet")
def _outside_subnet(cursor):
    """Inside the CIDR's usable range, not the gateway, not excluded. Keys are fixed-width hex,
    so text comparison is numeric comparison."""
    for subnet in Subnet.objects.prefetch_related("exclusions").order_by("pk"):
        low, high = addressing.usable_bounds(subnet.network)
        gateway = addressing.ip_key(addressing.parse_ip(subnet.gateway))
        where = ["a.ip_key < %s", "a.ip_key > %s", "a.ip_key = %s"]
        params: list = [subnet.pk, addressing.ip_key(low), addressing.ip_key(high), gateway]
        for exclusion in subnet.exclusions.all():
            where.append("a.ip_key BETWEEN %s AND %s")
            params += [
                addressing.ip_key(addressing.parse_ip(exclusion.first_ip)),
                addressing.ip_key(addressing.parse_ip(exclusion.last_ip)),
            ]
        sql = f"SELECT a.id, a.ip FROM {{address}} a WHERE a.subnet_id = %s AND ({' OR '.join(where)})"
        for address_id, ip in sql_rows(cursor, sql, params):
            yield (
                f"{ip} (address {address_id}) is outside the usable addresses of {subnet.subnet_id} "
                f"({subnet.cidr}, gateway {subnet.gateway}, exclusions)"
            )


@check("address_ip_key_mismatch")
def _key_mismatch(cursor):
    # SQL has no portable IP parser: read (ip, ip_key, version) and compare here, streaming.
    cursor.execute(
        "SELECT a.id, a.ip, a.ip_key, s.ip_version FROM {address} a JOIN {subnet} s ON s.id = a.subnet_id".format(
            **reservation_tables()
        )
    )
    while batch := cursor.fetchmany(2000):
        for address_id, ip, key, version in batch:
            try:
                parsed = addressing.parse_ip(ip)
            except ValueError:
                yield f"{ip!r} (address {address_id}) is not an IP address"
                continue
            if str(parsed) != ip or addressing.ip_key(parsed) != key or parsed.version != version:
                yield f"{ip} (address {address_id}) has key {key} or IP version not matching its text or subnet"


@check("mac_reused_in_region")
def _mac_reused(cursor):
    for region, mac, count in sql_rows(
        cursor,
        """
        SELECT s.net_regional_id, a.mac, COUNT(*) FROM {address} a JOIN {subnet} s ON s.id = a.subnet_id
        GROUP BY s.net_regional_id, a.mac HAVING COUNT(*) > 1
        """,
    ):
        yield f"MAC {mac} is used by {count} addresses in region {region}"


@check("mac_malformed")
def _mac_malformed(cursor):
    for address_id, ip, mac in Address.objects.exclude(mac__regex=MAC_PATTERN).values_list("id", "ip", "mac"):
        yield f"{ip} (address {address_id}) has MAC {mac!r}, not a lower-case locally administered unicast MAC"


# Pools: counts, sizes, states ------------------------------------------------------------------

POOL_SIZES = """
    SELECT p.id, p.state, p.target, p.reserved_count, COUNT(a.id),
           COALESCE(SUM(CASE WHEN a.idle_since IS NOT NULL THEN 1 ELSE 0 END), 0)
    FROM {pool} p LEFT JOIN {address} a ON a.pool_id = p.id
    GROUP BY p.id, p.state, p.target, p.reserved_count
"""


def _pool_sizes(cursor):
    return sql_rows(cursor, POOL_SIZES)


@check("pool_count_mismatch")
def _count_mismatch(cursor):
    for pool_id, _state, _target, counted, rows, _idle in _pool_sizes(cursor):
        if counted != rows:
            yield f"pool {pool_id} says it reserves {counted} addresses but has {rows}"


@check("pool_idle_beyond_target")
def _idle_beyond_target(cursor):
    for pool_id, state, target, _counted, rows, idle in _pool_sizes(cursor):
        if state == PoolState.ACTIVE and rows > target and idle > 0:
            yield (
                f"active pool {pool_id} holds {rows} addresses for target {target} with {idle} idle; "
                "above the target only bound addresses may remain"
            )


@check("released_pool_holds_idle")
def _released_idle(cursor):
    if settings.IPRESMGR_RELEASE_GRACE_SECONDS > 0:
        return  # idle addresses wait for re-creation within the grace, or for the lazy purge
    for pool_id, state, _target, _counted, _rows, idle in _pool_sizes(cursor):
        if state == PoolState.RELEASED and idle > 0:
            yield f"released pool {pool_id} still holds {idle} idle addresses (no release grace is set)"


@check("pool_state")
def _pool_state(cursor):
    for pool_id, state in sql_rows(
        cursor,
        """
        SELECT id, state FROM {pool}
        WHERE NOT ((state = %s AND released_at IS NULL) OR (state = %s AND released_at IS NOT NULL))
        """,
        [PoolState.ACTIVE, PoolState.RELEASED],
    ):
        yield f"pool {pool_id} has state {state!r} and a release time that do not agree"
    for cluster_id, namespace, kind, name, count in sql_rows(
        cursor,
        """
        SELECT k8s_cluster_id, namespace, kind, name, COUNT(*) FROM {pool} WHERE state = %s
        GROUP BY k8s_cluster_id, namespace, kind, name HAVING COUNT(*) > 1
        """,
        [PoolState.ACTIVE],
    ):
        yield f"workload {cluster_id}/{namespace}/{kind}/{name} has {count} active pools"


# Quarantine --------------------------------------------------------------------------------------


@check("quarantined_address_reserved")
def _quarantined_reserved(cursor):
    # A quarantined address is in no pool: the allocator skips it (subnet_space.find_free), and
    # quarantining deletes the reservation in the same transaction.
    for subnet_id, ip in sql_rows(
        cursor,
        """
        SELECT s.subnet_id, q.ip FROM {quarantined} q JOIN {subnet} s ON s.id = q.subnet_id
        WHERE EXISTS (SELECT 1 FROM {address} a WHERE a.subnet_id = q.subnet_id AND a.ip_key = q.ip_key)
        """,
    ):
        yield f"{ip} is quarantined in {subnet_id} and reserved by a pool at the same time"


@check("quarantined_key_matches_ip")
def _quarantined_key(cursor):
    for ip, key in QuarantinedAddress.objects.values_list("ip", "ip_key"):
        try:
            right = addressing.ip_key(int(addressing.parse_ip(ip)))
        except ValueError:
            right = None
        if key != right:
            yield f"quarantined {ip} has key {key}, not the key of its text: the allocator would not skip it"


# Subnet access -----------------------------------------------------------------------------------


@check("subnet_open_with_grants")
def _open_with_grants(cursor):
    # The allocator lets every cluster into an open subnet without looking at grants; the access
    # services clear the flag with the first grant. Both at once would ignore the grants.
    for (subnet_id,) in sql_rows(
        cursor,
        """
        SELECT s.subnet_id FROM {subnet} s
        WHERE s.open_without_grants AND EXISTS (SELECT 1 FROM {grant} g WHERE g.subnet_id = s.id)
        """,
    ):
        yield f"subnet {subnet_id} is open to every cluster although it grants some: its grants are ignored"


# Running them ----------------------------------------------------------------------------------


def find_violations(checks: list[Check] = CHECKS) -> list[Violation]:
    """Run `checks` in one read-only snapshot of the database."""
    found: list[Violation] = []
    outermost = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            if outermost:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute("SET LOCAL statement_timeout = 0")  # a big audit log may take a while
        for name, fn in checks:
            found.extend(Violation(name, detail) for detail in fn(cursor))
    return found
